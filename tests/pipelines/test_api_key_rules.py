"""The stage rules hold for integrations too: an API key (even one with an admin role)
meets the same gates and cannot override them."""

from __future__ import annotations

import pytest

from app.core.ids import new_id
from app.identity.models import Role
from app.identity.owners import InvalidOwner
from app.identity.principal import Principal
from app.pipelines import service
from app.pipelines.errors import (
    AdminOnly,
    CriteriaUnmet,
    LostReasonRequired,
)
from app.pipelines.schemas import OpportunityCreate, TransitionIn
from tests.pipelines.helpers import stages


def _api_key(tenant, scopes: set[str]) -> Principal:
    return Principal(org_id=tenant.id, role=Role.admin, kind="api_key", api_key_id=new_id(), scopes=frozenset(scopes))


async def test_api_keys_meet_every_gate_and_cannot_override(client, tenant, session):
    st = await stages(client, tenant.admin)
    key = _api_key(tenant, {"opportunities:write"})
    with pytest.raises(InvalidOwner):
        await service.create_opportunity(session, key, OpportunityCreate(name="from ERP"))
    opp = await service.create_opportunity(session, key, OpportunityCreate(name="from ERP", owner_id=tenant.admin.id))
    with pytest.raises(CriteriaUnmet) as unmet:
        await service.transition(session, key, opp.id, TransitionIn(to_stage_id=st["Solution design"]))
    assert len(unmet.value.extra["unmet"]) == 2
    with pytest.raises(AdminOnly):
        await service.transition(session, key, opp.id, TransitionIn(
            to_stage_id=st["Solution design"], override=True, reason="sync from ERP"))
    with pytest.raises(LostReasonRequired):
        await service.transition(session, key, opp.id, TransitionIn(to_stage_id=st["Lost"]))
    moved = await service.transition(session, key, opp.id, TransitionIn(to_stage_id=st["First contact"]))
    assert moved["transition"]["actor_id"] == key.api_key_id


async def test_read_only_keys_cannot_move_deals(client, tenant, session):
    from app.core.errors import Forbidden

    st = await stages(client, tenant.admin)
    writer = _api_key(tenant, {"opportunities:write"})
    reader = _api_key(tenant, {"opportunities:read"})
    opp = await service.create_opportunity(session, writer, OpportunityCreate(name="x", owner_id=tenant.admin.id))
    with pytest.raises(Forbidden):
        await service.transition(session, reader, opp.id, TransitionIn(to_stage_id=st["First contact"]))
    assert (await service.get_opportunity(session, reader, opp.id))["name"] == "x"
