"""Imports every domain's models so Base.metadata is complete (Alembic, the schema check).
A new domain adds its models module here."""

from app.accounts import models as account_models  # noqa: F401
from app.activities import models as activity_models  # noqa: F401
from app.analytics import models as analytics_models  # noqa: F401
from app.core import audit, events, idempotency  # noqa: F401
from app.core.db import Base
from app.identity import models as identity_models  # noqa: F401
from app.leads import models as lead_models  # noqa: F401
from app.pipelines import models as pipeline_models  # noqa: F401

metadata = Base.metadata
