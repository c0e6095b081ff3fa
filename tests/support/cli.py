"""Run the real `crm` command in a process of its own, against the test database."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.support.database import ROOT


def crm(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CRM_")}
    env.update(DATABASE_URL=database_url, CRM_LOG_LEVEL="WARNING")
    return subprocess.run([sys.executable, "-m", "app.cli", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120)
