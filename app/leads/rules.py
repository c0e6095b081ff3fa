"""Field conditions shared by scoring rules and assignment rules. One vocabulary of
fields and operators, validated in one place, with two evaluators that give the same
answers: SQL (set-based scoring over any relation with the lead's column names) and Python
(routing one lead; scoring the rows of a bulk import before they are copied in)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Literal

from pydantic import BaseModel, Field, model_validator
from sqlalchemy import ColumnElement, and_, case, cast, func, literal, null, or_, true
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.dialects.postgresql import array as pg_array

TEXT_FIELDS = ("source", "campaign", "region", "product_interest", "title", "company", "email", "phone")
NUMBER_FIELDS = ("company_size",)
ASSIGNMENT_ONLY = ("grade",)  # known only after scoring
ScoringField = Literal["source", "campaign", "region", "product_interest", "title", "company", "email", "phone", "company_size"]
AssignmentField = Literal[
    "source", "campaign", "region", "product_interest", "title", "company", "email", "phone", "company_size", "grade"
]
Operator = Literal["eq", "ne", "in", "not_in", "contains", "gt", "gte", "lt", "lte", "is_set", "is_empty"]
_NUMERIC_OPS = {"gt", "gte", "lt", "lte"}
_LIST_OPS = {"in", "not_in"}
_NO_VALUE_OPS = {"is_set", "is_empty"}
Scalar = str | int
# What a lead's company_size can hold (LeadFields): a larger value fails the rescore
# (integer column) and, past 2**63, the audit entry (JSON).
NUMBER_RANGE = (0, 10_000_000)
MAX_LIST_ITEMS = 200
ConditionValue = Scalar | list[Scalar] | None


def _check(field: str, operator: str, value: Any) -> None:
    numeric = field in NUMBER_FIELDS
    if operator in _NO_VALUE_OPS:
        if value is not None:
            raise ValueError(f"operator {operator} takes no value")
        return
    if value is None:
        raise ValueError(f"operator {operator} needs a value")
    if operator in _LIST_OPS:
        if not isinstance(value, list) or not value:
            raise ValueError(f"operator {operator} needs a non-empty list")
        if len(value) > MAX_LIST_ITEMS:
            raise ValueError(f"operator {operator} takes at most {MAX_LIST_ITEMS} values")
        items = value
    else:
        if isinstance(value, list):
            raise ValueError(f"operator {operator} needs a single value")
        items = [value]
    for item in items:
        if numeric and (not isinstance(item, int) or isinstance(item, bool)):
            raise ValueError(f"{field} compares with whole numbers")
        if numeric and not NUMBER_RANGE[0] <= item <= NUMBER_RANGE[1]:
            raise ValueError(f"{field} compares with whole numbers from {NUMBER_RANGE[0]} to {NUMBER_RANGE[1]}")
        if not numeric and not isinstance(item, str):
            raise ValueError(f"{field} compares with text")
        if isinstance(item, str) and ("\x00" in item or len(item) > 200):
            raise ValueError("text values must be at most 200 characters, without NUL")
    if operator in _NUMERIC_OPS and not numeric:
        raise ValueError(f"operator {operator} needs a numeric field ({', '.join(NUMBER_FIELDS)})")
    if operator == "contains" and numeric:
        raise ValueError("contains needs a text field")


class Condition(BaseModel):
    field: AssignmentField
    operator: Operator
    value: ConditionValue = Field(default=None, examples=["referral"])

    @model_validator(mode="after")
    def _valid(self) -> Condition:
        _check(self.field, self.operator, self.value)
        return self

    def describe(self) -> str:
        if self.operator in _NO_VALUE_OPS:
            return f"{self.field} {self.operator.replace('_', ' ')}"
        symbol = {"eq": "=", "ne": "!=", "gt": ">", "gte": ">=", "lt": "<", "lte": "<="}.get(self.operator, self.operator.replace("_", " "))
        return f"{self.field} {symbol} {self.value}"


def describe(field: str, operator: str, value: Any) -> str:
    return Condition.model_construct(field=field, operator=operator, value=value).describe()


# ---- SQL (scoring) ----------------------------------------------------------------

def condition_sql(cols: Mapping[str, ColumnElement[Any]], field: str, operator: str, value: Any) -> ColumnElement[bool]:
    col = cols[field]
    numeric = field in NUMBER_FIELDS
    if operator == "is_set":
        return col.is_not(None) if numeric else and_(col.is_not(None), col != "")
    if operator == "is_empty":
        return col.is_(None) if numeric else or_(col.is_(None), col == "")
    target = col if numeric else func.lower(col)
    norm = (lambda v: v) if numeric else (lambda v: str(v).lower())
    if operator == "eq":
        return func.coalesce(target == norm(value), False)
    if operator == "ne":
        return func.coalesce(target != norm(value), True)
    if operator == "in":
        return func.coalesce(target.in_([norm(v) for v in value]), False)
    if operator == "not_in":
        return func.coalesce(target.not_in([norm(v) for v in value]), True)
    if operator == "contains":
        escaped = str(value).lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        return func.coalesce(target.like(f"%{escaped}%", escape="\\"), False)
    ops = {"gt": col > value, "gte": col >= value, "lt": col < value, "lte": col <= value}
    return func.coalesce(ops[operator], False)


def score_sql(cols: Mapping[str, ColumnElement[Any]], rules: list[Any]) -> tuple[ColumnElement[int], ColumnElement[Any]]:
    """(score, breakdown) expressions for the active rules, over a relation with the
    lead's column names: the sum of the points of the matching rules, and a JSON array
    saying which rules matched and why."""
    if not rules:
        return literal(0), literal([], type_=JSONB)
    score = None
    parts = []
    for rule in rules:
        cond = condition_sql(cols, rule.field, rule.operator, rule.value)
        term = case((cond, rule.points), else_=0)
        score = term if score is None else score + term
        entry = {"rule_id": str(rule.id), "name": rule.name, "points": rule.points,
                 "condition": describe(rule.field, rule.operator, rule.value)}
        parts.append(case((cond, literal(entry, type_=JSONB)), else_=None))
    # Matching rules only: NULLs out of a jsonb[] then to a JSON array (cheaper than jsonpath).
    breakdown = func.to_jsonb(func.array_remove(pg_array(parts, type_=JSONB), cast(null(), JSONB)))
    return score, breakdown  # type: ignore[return-value]


def grade_sql(score: ColumnElement[int], a: int, b: int, c: int) -> ColumnElement[str]:
    return case((score >= a, "A"), (score >= b, "B"), (score >= c, "C"), else_="D")


# ---- Python (assignment) --------------------------------------------------------------

def compile_condition(field: str, operator: str, value: Any) -> Callable[[Any], bool]:
    """The condition as a test of the field's value, prepared once (lists to sets, text
    lower-cased): bulk paths run it per row, routing per lead. Same answers as condition_sql."""
    if operator == "is_set":
        return lambda cur: cur is not None and cur != ""
    if operator == "is_empty":
        return lambda cur: cur is None or cur == ""
    numeric = field in NUMBER_FIELDS
    norm: Callable[[Any], Any] = (lambda v: v) if numeric else (lambda v: str(v).lower())
    absent = operator in ("ne", "not_in")  # what a missing value answers
    if operator in _LIST_OPS:
        options = frozenset(norm(v) for v in value)
        test: Callable[[Any], bool] = (lambda c: c in options) if operator == "in" else (lambda c: c not in options)
    else:
        target = norm(value)
        test = {
            "eq": lambda c: c == target, "ne": lambda c: c != target, "contains": lambda c: target in c,
            "gt": lambda c: c > target, "gte": lambda c: c >= target, "lt": lambda c: c < target,
            "lte": lambda c: c <= target,
        }[operator]
    if numeric:
        return lambda cur: absent if cur is None else test(cur)
    return lambda cur: absent if cur is None else test(str(cur).lower())


def matches(values: Mapping[str, Any], field: str, operator: str, value: Any) -> bool:
    return compile_condition(field, operator, value)(values.get(field))


def all_match(values: Mapping[str, Any], conditions: list[dict[str, Any]]) -> bool:
    return all(matches(values, c["field"], c["operator"], c.get("value")) for c in conditions) if conditions else True


__all__ = ["Condition", "all_match", "compile_condition", "condition_sql", "grade_sql", "score_sql", "true"]
