"""The unit tier starts no process: a test that tries fails at once, naming what it tried.

Real processes (servers, nodes, ``sleep`` stand-ins, forks) belong in ``tests/e2e``.
"""

from __future__ import annotations

import multiprocessing.util
import os
import subprocess
from typing import Any, NoReturn

import pytest


def _refuse(what: str) -> Any:
    def refuse(*_args: Any, **_kwargs: Any) -> NoReturn:
        raise AssertionError(f"a unit test started a process ({what}); "
                             "real processes belong in tests/e2e")

    return refuse


@pytest.fixture(autouse=True)
def no_process(monkeypatch: pytest.MonkeyPatch) -> None:
    """Refuse every way a test could start a process (Popen of any import, fork, spawn)."""
    monkeypatch.setattr(subprocess.Popen, "_execute_child", _refuse("subprocess.Popen"))
    for name in ("fork", "forkpty", "posix_spawn", "posix_spawnp"):
        if hasattr(os, name):
            monkeypatch.setattr(os, name, _refuse(f"os.{name}"))
    monkeypatch.setattr(multiprocessing.util, "spawnv_passfds", _refuse("multiprocessing"))
