"""Headless Chromium for tests: the DOM of a page after its scripts ran, and a screenshot.

Debian's ``chromium`` (``.ci/run`` installs it). Every call uses a fresh
profile directory and its own process session, and kills that session when
done, so no browser process outlives the test.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"]


def chromium() -> str | None:
    """The chromium binary on PATH, or ``None``."""
    return shutil.which("chromium") or shutil.which("chromium-browser")


def _run(page: Path, *extra: str, timeout_s: float = 60.0) -> str:
    binary = chromium()
    if binary is None:
        raise RuntimeError("chromium is not installed")
    with tempfile.TemporaryDirectory(prefix="rpcdemo-chromium-") as profile:
        argv = [binary, *FLAGS, f"--user-data-dir={profile}", *extra, page.absolute().as_uri()]
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                stdin=subprocess.DEVNULL, start_new_session=True, text=True)
        try:
            out, _ = proc.communicate(timeout=timeout_s)
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
    if proc.returncode != 0:
        raise RuntimeError(f"chromium exited {proc.returncode} on {page}")
    return out


def dump_dom(page: Path) -> str:
    """The serialized DOM of ``page`` once it loaded (inline scripts have run)."""
    return _run(page, "--dump-dom")


def screenshot(page: Path, out: Path, size: str = "1200,1600") -> None:
    """Save a PNG of ``page`` to ``out``; ``RuntimeError`` if chromium wrote none."""
    _run(page, f"--screenshot={out.absolute()}", f"--window-size={size}",
         "--hide-scrollbars")
    if not out.exists() or out.stat().st_size == 0:
        raise RuntimeError(f"chromium wrote no screenshot to {out}")
