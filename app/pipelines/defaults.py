"""What a new organisation starts with: the default sales pipeline (names in English,
Chinese labels) and a catalogue of lost reasons."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

DEFAULT_PIPELINE_NAME = "New business 新业务"

# (name, zh-CN, kind, probability, sla_days, criteria)
DEFAULT_STAGES: list[tuple[str, str, str, str, int | None, list[dict[str, Any]]]] = [
    ("Prospect identification", "商机识别", "open", "0.05", 14, []),
    ("First contact", "初步接触", "open", "0.10", 7, []),
    ("Needs analysis", "需求分析", "open", "0.20", 14, []),
    ("Solution design", "方案设计", "open", "0.40", 21, [
        {"type": "note_required", "message": "Summarise the analysed needs in the note (需求分析结论)"},
        {"type": "field_set", "field": "amount"},
    ]),
    ("Quotation", "报价", "open", "0.60", 14, [
        {"type": "field_set", "field": "amount"},
        {"type": "field_set", "field": "expected_close_date"},
    ]),
    ("Negotiation and signing", "谈判签约", "open", "0.80", 21, [
        {"type": "external", "check": "quote_accepted", "message": "A quote must be accepted by the customer"},
    ]),
    ("Won", "赢单", "won", "1", None, [{"type": "field_set", "field": "amount"}]),
    ("Lost", "输单", "lost", "0", None, []),
]

DEFAULT_LOST_REASONS: list[tuple[str, str]] = [
    ("Price too high", "价格过高"),
    ("Lost to a competitor", "输给竞争对手"),
    ("No budget", "没有预算"),
    ("Project cancelled or postponed", "项目取消或延期"),
    ("Product does not fit", "产品不匹配"),
    ("No response from the customer", "客户失联"),
    ("Chose to build in-house", "客户自研"),
]


def default_stage_rows() -> list[dict[str, Any]]:
    return [
        {"name": name, "labels": {"zh-CN": zh}, "kind": kind, "probability": Decimal(p), "sla_days": sla,
         "criteria": criteria}
        for name, zh, kind, p, sla, criteria in DEFAULT_STAGES
    ]
