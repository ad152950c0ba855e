"""The unit tier's guard (``tests/unit/conftest.py``) refuses to start a process."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest


def test_popen_is_refused() -> None:
    with pytest.raises(AssertionError, match="real processes belong in tests/e2e"):
        subprocess.run([sys.executable, "-c", "pass"], check=False)


def test_fork_is_refused() -> None:
    with pytest.raises(AssertionError, match=r"os\.fork"):
        if os.fork() == 0:  # only if the guard failed: the child leaves at once
            os._exit(0)
