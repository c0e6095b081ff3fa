"""Request and response bodies of the leads API."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    field_validator,
    model_validator,
)

from app.core.timeinput import CalendarDate
from app.leads.models import LeadSource, LeadStatus
from app.leads.rules import Condition, ScoringField
from app.leads.types import Body, LongText, Name, ShortText, text

Currency = text(3, 3)


class LeadFields(BaseModel):
    model_config = ConfigDict(extra="forbid")

    first_name: Name | None = Field(default=None, examples=["Wei"])
    last_name: Name | None = Field(default=None, examples=["张"])
    email: text(320) | None = Field(default=None, examples=["zhang.wei@example.cn"])  # type: ignore[valid-type]
    phone: text(50) | None = Field(default=None, examples=["138 0013 8000"])  # type: ignore[valid-type]
    title: ShortText | None = Field(default=None, examples=["采购经理"])
    company: LongText | None = Field(default=None, examples=["上海华东机械有限公司"])
    company_size: StrictInt | None = Field(default=None, ge=0, le=10_000_000, examples=[800])
    region: Name | None = Field(default=None, examples=["East China"])
    product_interest: Name | None = Field(default=None, examples=["CNC machines"])
    campaign: ShortText | None = Field(default=None, examples=["2026 Canton Fair"])
    description: Body | None = None


class LeadCreate(LeadFields):
    source: LeadSource = Field(examples=["web_form"])
    owner_id: uuid.UUID | None = Field(
        default=None, description="Assign to this user; omitted: reps own what they create, otherwise the assignment rules decide"
    )

    @model_validator(mode="after")
    def _named(self) -> LeadCreate:
        if not (self.last_name or self.first_name or self.company):
            raise ValueError("a lead needs a name or a company")
        return self


class LeadUpdate(LeadFields):
    source: LeadSource | None = None
    status: Literal["new", "contacted", "qualified"] | None = Field(
        default=None, description="Disqualify and convert have their own actions"
    )


class ScoreItem(BaseModel):
    rule_id: uuid.UUID
    name: str
    points: int
    condition: str = Field(examples=["source = referral"])


class LeadOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    owner_id: uuid.UUID | None
    first_name: str | None
    last_name: str | None
    email: str | None
    phone: str | None
    phone_normalized: str | None = Field(description="E.164")
    title: str | None
    company: str | None
    company_size: int | None
    region: str | None
    product_interest: str | None
    source: str
    campaign: str | None
    description: str | None
    status: LeadStatus
    disqualify_reason: str | None
    score: int
    grade: str
    score_breakdown: list[ScoreItem]
    assigned_by_rule_id: uuid.UUID | None
    assigned_at: dt.datetime | None
    first_response_at: dt.datetime | None
    converted_at: dt.datetime | None
    converted_opportunity_id: uuid.UUID | None
    converted_account_id: uuid.UUID | None
    converted_contact_id: uuid.UUID | None
    merged_into_id: uuid.UUID | None
    import_id: uuid.UUID | None
    erased_at: dt.datetime | None
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime


class DuplicateMatch(BaseModel):
    type: Literal["lead", "contact", "account"]
    id: uuid.UUID
    name: str | None
    company: str | None
    owner_id: uuid.UUID | None
    matched_on: list[Literal["email", "phone", "company"]]
    blocking: bool = Field(description="Email or phone matches block creation; a company match is only a hint")
    visible: bool = Field(default=True, description="False: a record you cannot see; name, company and owner are not shown")


class LeadCreated(LeadOut):
    possible_duplicates: list[DuplicateMatch] = Field(
        default_factory=list, description="Records with the same normalised company name (not blocking)"
    )


class DisqualifyRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: text(2000, 1) = Field(examples=["No budget this year"])  # type: ignore[valid-type]


class AssignRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    owner_id: uuid.UUID | None = Field(default=None, description="Omit to route by the assignment rules")


class MergeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    duplicate_id: uuid.UUID = Field(description="The lead merged into this one; it stays readable with merged_into_id")


class ConvertRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    account_id: uuid.UUID | None = Field(default=None, description="Link this existing account instead of creating one")
    opportunity_name: LongText | None = Field(default=None, examples=["华东机械 - 50 CNC units"])
    amount: Decimal | None = Field(default=None, ge=0, max_digits=18, decimal_places=2, examples=["250000.00"])
    currency: Currency | None = Field(default=None, examples=["CNY"])  # type: ignore[valid-type]
    pipeline_id: uuid.UUID | None = Field(default=None, description="Default: the organisation's default pipeline")
    expected_close_date: CalendarDate | None = None

    @field_validator("currency")
    @classmethod
    def _iso(cls, v: str | None) -> str | None:
        if v is not None and not (v.isascii() and v.isalpha()):
            raise ValueError("an ISO 4217 code like CNY")
        return v.upper() if v else v


class ConversionOut(BaseModel):
    lead: LeadOut
    account_id: uuid.UUID
    contact_id: uuid.UUID
    opportunity_id: uuid.UUID
    account_created: bool
    contact_created: bool = Field(description="False when an existing contact with the lead's email (or phone), at "
                                              "this account or at none, was linked instead")
    stage_id: uuid.UUID
    pipeline_id: uuid.UUID


class LeadSettingsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    grade_a_min: StrictInt = Field(ge=-100_000, le=100_000, examples=[80])
    grade_b_min: StrictInt = Field(ge=-100_000, le=100_000, examples=[50])
    grade_c_min: StrictInt = Field(ge=-100_000, le=100_000, examples=[20])
    response_target_minutes: StrictInt = Field(ge=1, le=60 * 24 * 30, examples=[60])

    @model_validator(mode="after")
    def _ordered(self) -> LeadSettingsIn:
        if not (self.grade_a_min > self.grade_b_min > self.grade_c_min):
            raise ValueError("thresholds must satisfy A > B > C")
        return self


class LeadSettingsOut(LeadSettingsIn):
    model_config = ConfigDict(from_attributes=True)
    version: int


class ScoringRuleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: text(200, 1) = Field(examples=["Referral"])  # type: ignore[valid-type]
    field: ScoringField = Field(examples=["source"])
    operator: Literal["eq", "ne", "in", "not_in", "contains", "gt", "gte", "lt", "lte", "is_set", "is_empty"]
    value: str | int | list[str | int] | None = Field(default=None, examples=["referral"])
    points: StrictInt = Field(ge=-1000, le=1000, examples=[20])
    position: StrictInt = Field(default=0, ge=0, le=10_000)
    is_active: StrictBool = True

    @model_validator(mode="after")
    def _valid(self) -> ScoringRuleIn:
        Condition(field=self.field, operator=self.operator, value=self.value)
        return self


class ScoringRulePatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: text(200, 1) | None = None  # type: ignore[valid-type]
    field: ScoringField | None = None
    operator: Literal["eq", "ne", "in", "not_in", "contains", "gt", "gte", "lt", "lte", "is_set", "is_empty"] | None = None
    value: str | int | list[str | int] | None = None
    points: StrictInt | None = Field(default=None, ge=-1000, le=1000)
    position: StrictInt | None = Field(default=None, ge=0, le=10_000)
    is_active: StrictBool | None = None


class ScoringRuleOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    name: str
    field: str
    operator: str
    value: Any
    points: int
    position: int
    is_active: bool
    version: int


class AssignmentRuleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: text(200, 1) = Field(examples=["Referrals in East China"])  # type: ignore[valid-type]
    conditions: list[Condition] = Field(default_factory=list, max_length=20)
    target_user_id: uuid.UUID | None = None
    target_team_id: uuid.UUID | None = Field(default=None, description="Round-robin over the team's active members")
    position: StrictInt = Field(default=0, ge=0, le=10_000)
    is_active: StrictBool = True

    @model_validator(mode="after")
    def _one_target(self) -> AssignmentRuleIn:
        if (self.target_user_id is None) == (self.target_team_id is None):
            raise ValueError("set exactly one of target_user_id and target_team_id")
        return self


class AssignmentRuleOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    name: str
    conditions: list[dict[str, Any]]
    target_user_id: uuid.UUID | None
    target_team_id: uuid.UUID | None
    last_assigned_user_id: uuid.UUID | None
    position: int
    is_active: bool
    version: int


class PersonalDataExport(BaseModel):
    subject_type: Literal["lead", "contact"]
    subject: dict[str, Any]
    activities: list[dict[str, Any]]
    tasks: list[dict[str, Any]]
    audit: list[dict[str, Any]]
    events: list[dict[str, Any]]
    exported_at: dt.datetime
