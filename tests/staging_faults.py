"""A staging writer SIGKILLed mid-step, for the staging tests on a local disk and on S3."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

from oncall_readiness.staging import RunStaging

# Runs in a process of its own: the first table is written, the kill comes before the second.
KILLED_WRITER = """
import datetime as dt, os, signal, sys
import pandas as pd
from oncall_readiness.staging import RunStaging

original = pd.DataFrame.to_parquet

def die_on_the_second_table(self, *args, **kwargs):
    if self.columns.tolist() == ["finding"]:
        os.kill(os.getpid(), signal.SIGKILL)  # as an OOM kill: no finally, no clean-up
    return original(self, *args, **kwargs)

pd.DataFrame.to_parquet = die_on_the_second_table
RunStaging(dt.date.fromisoformat(sys.argv[1]), sys.argv[2]).write(
    "checks", {"check_results": pd.DataFrame({"team": ["half"]}), "findings": pd.DataFrame({"finding": ["x"]})}
)
"""


def killed_while_writing(staging: RunStaging) -> None:
    """Write a two-table step in another process (this one's environment), SIGKILLed after the first table."""
    argv = [sys.executable, "-c", KILLED_WRITER, staging.audit_date.isoformat(), staging.run_id]
    result = subprocess.run(argv, env=os.environ, capture_output=True)
    assert result.returncode == -signal.SIGKILL, result.stderr.decode()[-2000:]
