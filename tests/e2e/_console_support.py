"""``rpcdemo ui`` as a real process for the console's e2e tests and its benchmark."""

from __future__ import annotations

import contextlib
import select
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from tests.procs import PYTHON


@dataclass
class Console:
    """A running console: its process and the URL it printed."""

    proc: subprocess.Popen[str]
    url: str

    @property
    def base(self) -> str:
        """``http://127.0.0.1:PORT`` (no token)."""
        parts = urlsplit(self.url)
        return f"{parts.scheme}://{parts.netloc}"

    @property
    def token(self) -> str:
        return parse_qs(urlsplit(self.url).query)["token"][0]


def read_url(proc: subprocess.Popen[str], timeout: float = 30.0) -> str:
    """The ``console: URL`` line the process printed (AssertionError at the deadline)."""
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    seen = ""
    while time.monotonic() < deadline:
        ready, _, _ = select.select([proc.stdout], [], [], 0.1)
        if ready:
            line = proc.stdout.readline()
            seen += line
            if line.startswith("console: "):
                return line.removeprefix("console: ").strip()
            if not line and proc.poll() is not None:
                break
    raise AssertionError(f"rpcdemo ui printed no URL (exit {proc.poll()}): {seen!r}")


@contextlib.contextmanager
def console_of(home: Path, *args: str) -> Iterator[Console]:
    """``rpcdemo --home HOME ui ARGS`` until the block ends, then SIGINT: it must exit 0."""
    proc = subprocess.Popen([PYTHON, "-m", "resonate_rpc_cli", "--home", str(home), "ui", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        yield Console(proc, read_url(proc))
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=15)
        assert proc.returncode == 0, (proc.returncode, err)
        assert "Traceback" not in err, err
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
