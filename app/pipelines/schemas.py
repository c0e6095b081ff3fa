"""Request and response bodies of the pipelines and opportunities API.

Input models forbid unknown fields, so ids, org, versions and timestamps can never be
mass-assigned; the few fields only some callers may set (owner, back-dated times) are
checked by the service.
"""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StringConstraints,
    field_validator,
    model_validator,
)

from app.core.timeinput import AwareDateTime, CalendarDate
from app.pipelines.models import OpportunityStatus, StageKind, TransitionKind

# Dates and times: ISO 8601 text only, date-times with a zone, 1900..2200 (one definition).
IsoDate = CalendarDate
IsoDateTime = AwareDateTime
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
OppName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]
Tag = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=50)]
Currency = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
Money = Annotated[Decimal, Field(ge=0, max_digits=18, decimal_places=2, allow_inf_nan=False)]
Probability = Annotated[Decimal, Field(ge=0, le=1, max_digits=4, decimal_places=3, allow_inf_nan=False)]
Labels = Annotated[dict[Annotated[str, StringConstraints(min_length=2, max_length=20)], Name], Field(max_length=20)]
Text = Annotated[str, StringConstraints(max_length=10_000)]
Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]


def _storable(value: Any, path: str = "") -> None:
    """PostgreSQL stores neither NUL characters (text and jsonb) nor lone UTF-16
    surrogates (not UTF-8): refuse them as a 422 here instead of a database error."""
    if isinstance(value, str):
        if "\x00" in value:
            raise ValueError(f"{path or 'value'}: NUL characters are not allowed")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError(f"{path or 'value'}: not valid Unicode text") from None
    elif isinstance(value, dict):
        for key, item in value.items():
            _storable(key, path)
            _storable(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _storable(item, f"{path}[{i}]")


class Input(BaseModel):
    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def storable_text(cls, data: Any) -> Any:
        _storable(data)
        return data


# --- stage entry criteria ---------------------------------------------------------------

CriterionField = Literal["amount", "expected_close_date", "account_id", "source", "description", "tags"]


class FieldSetCriterion(Input):
    """The deal's field must be set (non-empty) before it may enter the stage."""

    type: Literal["field_set"]
    field: CriterionField
    message: Annotated[str, StringConstraints(max_length=500)] | None = None


class AmountAtLeastCriterion(Input):
    """The deal's amount must be at least `value`."""

    type: Literal["amount_at_least"]
    value: Money
    message: Annotated[str, StringConstraints(max_length=500)] | None = None


class NoteRequiredCriterion(Input):
    """The move itself must carry a note (e.g. the analysed needs before solution design)."""

    type: Literal["note_required"]
    message: Annotated[str, StringConstraints(max_length=500)] | None = None


class ExternalCriterion(Input):
    """A condition owned by another domain, looked up in the external-check registry
    (e.g. `quote_accepted`). See docs/pipelines.md."""

    type: Literal["external"]
    check: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{1,49}$")]
    message: Annotated[str, StringConstraints(max_length=500)] | None = None

    @field_validator("check")
    @classmethod
    def known_check(cls, value: str) -> str:
        from app.pipelines.criteria import known_external_checks

        if value not in known_external_checks():
            raise ValueError(f"unknown external check; known: {sorted(known_external_checks())}")
        return value


Criterion = Annotated[
    FieldSetCriterion | AmountAtLeastCriterion | NoteRequiredCriterion | ExternalCriterion,
    Field(discriminator="type"),
]


# --- pipelines and stages ---------------------------------------------------------------

class StageIn(Input):
    name: Name
    labels: Labels = Field(default_factory=dict, description="Other-language names, e.g. {\"zh-CN\": \"需求分析\"}")
    kind: StageKind = StageKind.open
    probability: Probability
    sla_days: Annotated[int, Field(gt=0, le=3650)] | None = Field(
        default=None, description="Days in this stage after which a deal counts as stalled")
    criteria: Annotated[list[Criterion], Field(max_length=20)] = Field(default_factory=list)


class StageCreate(StageIn):
    position: Annotated[int, Field(ge=1, le=1000)] | None = Field(
        default=None, description="1-based place among the pipeline's stages; default: after the last open stage")


class PipelineCreate(Input):
    name: Name
    is_default: StrictBool = False
    stages: Annotated[list[StageIn], Field(min_length=3, max_length=50)]

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "name": "Renewals 续约",
        "stages": [
            {"name": "Renewal due", "labels": {"zh-CN": "待续约"}, "kind": "open", "probability": "0.5", "sla_days": 30},
            {"name": "Quote sent", "labels": {"zh-CN": "已报价"}, "kind": "open", "probability": "0.7", "sla_days": 14,
             "criteria": [{"type": "field_set", "field": "amount"}]},
            {"name": "Renewed", "labels": {"zh-CN": "已续约"}, "kind": "won", "probability": "1"},
            {"name": "Churned", "labels": {"zh-CN": "流失"}, "kind": "lost", "probability": "0"},
        ],
    }]})


class PipelineUpdate(Input):
    name: Name | None = None
    is_default: Literal[True] | None = Field(default=None, description="Make this the organisation's default pipeline")
    is_archived: StrictBool | None = None


class StageUpdate(Input):
    name: Name | None = None
    labels: Labels | None = None
    probability: Probability | None = None
    sla_days: Annotated[int, Field(gt=0, le=3650)] | None = None
    clear_sla: StrictBool = Field(default=False, description="Remove the SLA (never stalled)")
    criteria: Annotated[list[Criterion], Field(max_length=20)] | None = None
    is_retired: StrictBool | None = Field(default=None, description="Retired stages take no new deals; history keeps them")


class StageOrder(Input):
    stage_ids: Annotated[list[uuid.UUID], Field(min_length=1, max_length=50)] = Field(
        description="Every stage of the pipeline, in the new order (open stages before won/lost)")


class StageOut(BaseModel):
    id: uuid.UUID
    pipeline_id: uuid.UUID
    name: str
    labels: dict[str, str]
    position: int
    kind: StageKind
    probability: Decimal
    sla_days: int | None
    criteria: list[dict[str, Any]]
    is_retired: bool
    version: int


class PipelineOut(BaseModel):
    id: uuid.UUID
    name: str
    is_default: bool
    is_archived: bool
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime
    stages: list[StageOut]


class LostReasonIn(Input):
    name: Name
    labels: Labels = Field(default_factory=dict)


class LostReasonUpdate(Input):
    name: Name | None = None
    labels: Labels | None = None
    is_active: StrictBool | None = None


class LostReasonOut(BaseModel):
    id: uuid.UUID
    name: str
    labels: dict[str, str]
    is_active: bool


# --- opportunities ----------------------------------------------------------------------

class OpportunityCreate(Input):
    name: OppName
    pipeline_id: uuid.UUID | None = Field(default=None, description="Default: the organisation's default pipeline")
    stage_id: uuid.UUID | None = Field(default=None, description="Default: the pipeline's first open stage")
    account_id: uuid.UUID | None = None
    owner_id: uuid.UUID | None = Field(default=None, description="Default: the caller. Managers and admins may assign")
    amount: Money | None = None
    currency: Currency | None = Field(default=None, description="ISO 4217; default: the organisation's currency")
    expected_close_date: IsoDate | None = None
    source: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=50)] | None = None
    tags: Annotated[list[Tag], Field(max_length=50)] = Field(default_factory=list)
    description: Text | None = None
    created_at: IsoDateTime | None = Field(
        default=None, description="Admins importing history only: when the deal was created (its first stage entered then)")

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "name": "华东电力 2027 框架协议", "amount": "1250000.00", "currency": "CNY",
        "expected_close_date": "2027-03-31", "source": "trade_show", "tags": ["energy", "框架"],
    }]})


class OpportunityUpdate(Input):
    name: OppName | None = None
    account_id: uuid.UUID | None = None
    owner_id: uuid.UUID | None = Field(default=None, description="Reassign (managers within their teams, admins)")
    amount: Money | None = None
    currency: Currency | None = None
    expected_close_date: IsoDate | None = None
    source: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=50)] | None = None
    tags: Annotated[list[Tag], Field(max_length=50)] | None = None
    description: Text | None = None


class StageRef(BaseModel):
    id: uuid.UUID
    name: str
    labels: dict[str, str]
    kind: StageKind
    probability: Decimal


class OpportunityOut(BaseModel):
    id: uuid.UUID
    name: str
    owner_id: uuid.UUID
    team_id: uuid.UUID | None
    account_id: uuid.UUID | None
    lead_id: uuid.UUID | None = Field(description="The lead this deal was converted from, if any")
    pipeline_id: uuid.UUID
    stage_id: uuid.UUID
    stage: StageRef
    status: OpportunityStatus
    amount: Decimal | None
    currency: str
    expected_close_date: dt.date | None
    source: str | None
    tags: list[str]
    description: str | None
    lost_reason_id: uuid.UUID | None
    stage_entered_at: dt.datetime
    closed_at: dt.datetime | None
    stalled: bool = Field(description="Open and longer in its stage than the stage's SLA")
    stalled_since: dt.datetime | None
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime


class TransitionIn(Input):
    to_stage_id: uuid.UUID
    reason: Reason | None = Field(default=None, description="Required to move backwards and for an override")
    lost_reason_id: uuid.UUID | None = Field(default=None, description="Required when moving into a lost stage")
    note: Text | None = None
    occurred_at: IsoDateTime | None = Field(
        default=None, description="Admins only: back-date the move (not before the previous move, not in the future)")
    change_pipeline: StrictBool = Field(default=False, description="Explicitly move the deal to a stage of another pipeline")
    override: StrictBool = Field(default=False, description="Admins only, with a reason: bypass the entry criteria")

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "to_stage_id": "01935c6e-8a1b-7cc2-9d2e-2b1f0c9d4e11", "note": "客户确认了需求清单 / needs confirmed",
    }]})


class ReopenIn(Input):
    reason: Reason
    to_stage_id: uuid.UUID | None = Field(default=None, description="Default: the open stage the deal was closed from")
    note: Text | None = None
    occurred_at: IsoDateTime | None = None


class TransitionOut(BaseModel):
    id: uuid.UUID
    opportunity_id: uuid.UUID
    seq: int | None
    kind: TransitionKind
    from_stage_id: uuid.UUID | None
    to_stage_id: uuid.UUID
    from_pipeline_id: uuid.UUID | None
    to_pipeline_id: uuid.UUID
    actor_id: uuid.UUID | None
    occurred_at: dt.datetime
    recorded_at: dt.datetime
    reason: str | None
    note: str | None
    lost_reason_id: uuid.UUID | None
    override: bool
    amount: Decimal | None


class TransitionResult(BaseModel):
    opportunity: OpportunityOut
    transition: TransitionOut
