"""Optional per-step timing of an import: off unless a benchmark sets `steps` to a dict
(bench/lead_import.py, bench/account_import.py print where an import's time goes)."""

from __future__ import annotations

import time


class StepTimings:
    def __init__(self) -> None:
        self.steps: dict[str, float] | None = None

    def tick(self, label: str, started: float) -> float:
        """Add the time since `started` to `label`; returns now, the next step's start."""
        now = time.perf_counter()
        if self.steps is not None:
            self.steps[label] = self.steps.get(label, 0.0) + now - started
        return now
