"""Every domain's router, mounted under /v1. A new domain adds its router here."""

from fastapi import APIRouter

from app.core.errors import COMMON_ERROR_STATUSES, problem_responses
from app.core.idempotency import IdempotencyGuard

api_router = APIRouter(
    prefix="/v1",
    responses=problem_responses(*COMMON_ERROR_STATUSES),
    dependencies=[IdempotencyGuard],
)

from app.analytics.alerts_router import router as alerts_router  # noqa: E402
from app.analytics.router import router as analytics_router  # noqa: E402

DOMAIN_ROUTERS: list[APIRouter] = [analytics_router, alerts_router]

for domain_router in DOMAIN_ROUTERS:
    api_router.include_router(domain_router)
