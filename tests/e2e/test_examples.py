"""Everything under examples/ runs, and says it worked (the README points users at them)."""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from tests.procs import processes_of_home

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.mark.e2e
def test_cli_tour_runs_and_leaves_nothing() -> None:
    with tempfile.TemporaryDirectory(prefix="rpcd-") as tmp:  # short: the socket path
        home = Path(tmp) / "home"
        proc = subprocess.run(
            [sys.executable, str(EXAMPLES / "cli_tour.py"), "--home", str(home)],
            capture_output=True, text=True, timeout=120, check=False,
            stdin=subprocess.DEVNULL, cwd=EXAMPLES.parent,
        )
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
        assert "$ rpcdemo down" in proc.stdout, proc.stdout[-3000:]
        assert processes_of_home(home) == []
