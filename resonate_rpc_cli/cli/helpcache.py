"""``rpcdemo --help`` from a cache: Typer's own output, recorded the first time it is shown.

Rendering the root help loads Typer's Rich help (with ``rich.markdown``,
markdown-it and pygments): three times ``import typer`` (issue 21). The first
``rpcdemo --help`` runs Typer and records what it writes on stdout; later ones
with the same :func:`key` print the record. The key covers everything the
bytes depend on: this package's CLI sources (every file of ``cli/``, by size and
mtime), the installed Typer and Rich, Python, whether stdout is a terminal and
its encoding, the terminal's width (as Rich reads it), and the environment
variables that steer colour, width or Typer. Records live in
``$XDG_CACHE_HOME/rpcdemo`` (default ``~/.cache/rpcdemo``); one that cannot be
read or written is simply not used. ``tests/cli/test_entry_point.py`` checks
the record against Typer's live output.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

#: environment variables that can change the help's bytes (colour, width, Typer, Rich, locale)
STEERING = re.compile(r"COLOR|TERM|TTY|COLUMNS|LINES|WIDTH|TYPER|RICH|JUPYTER|GITHUB|^CI$|"
                      r"^LANG|^LC_|PYTHONIOENCODING|PYTHONUTF8|^RPCDEMO")
CLI_DIR = Path(__file__).resolve().parent


def cache_dir() -> Path | None:
    base = os.environ.get("XDG_CACHE_HOME") or (
        os.path.join(os.path.expanduser("~"), ".cache") if "HOME" in os.environ else "")
    return Path(base, "rpcdemo") if base else None


def key(args: list[str]) -> str:
    """A digest of everything the help's bytes depend on (``args``: the command line)."""
    parts: list[Any] = [args, sys.version, sys.executable, _terminal()]
    parts += sorted((n, v) for n, v in os.environ.items() if STEERING.search(n))
    with os.scandir(CLI_DIR) as entries:
        parts += sorted(_stamp(e.path) for e in entries if e.name.endswith(".py"))
    for package in ("typer", "rich"):
        spec = importlib.util.find_spec(package)
        origin = spec.origin if spec is not None else None
        parts.append(_stamp(origin) if origin else package)
    return hashlib.sha256(repr(parts).encode()).hexdigest()[:32]


def _terminal() -> tuple[bool, str, int]:
    stream = sys.stdout
    try:
        tty = bool(stream.isatty())
    except ValueError:
        tty = False
    width = 0
    for fd in (0, 1, 2):
        try:
            width = os.get_terminal_size(fd).columns
        except OSError:
            continue
        break
    return tty, str(getattr(stream, "encoding", "")), width


def _stamp(path: str) -> tuple[str, int, int]:
    st = os.stat(path)
    return path, st.st_size, st.st_mtime_ns


def show(digest: str) -> bool:
    """Print the record of ``digest`` if there is one."""
    where = cache_dir()
    if where is None:
        return False
    try:
        text = (where / f"help-{digest}.txt").read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return False
    sys.stdout.write(text)
    sys.stdout.flush()
    return True


class _Tee:
    """stdout as Typer sees it (terminal, encoding, width all the real one's), remembering
    what is written, as text or through its binary ``buffer`` (click's ``echo`` of bytes)."""

    def __init__(self, stream: Any) -> None:
        self.stream = stream
        self.written: list[str] = []

    def write(self, text: str) -> int:
        if not isinstance(text, str):  # as a text stream refuses bytes (click probes this)
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        self.written.append(text)
        return int(self.stream.write(text))

    @property
    def buffer(self) -> _BufferTee:
        return _BufferTee(self)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.stream, name)


class _BufferTee:
    def __init__(self, tee: _Tee) -> None:
        self.tee = tee

    def write(self, data: bytes) -> int:
        self.tee.written.append(bytes(data).decode(self.tee.stream.encoding or "utf-8"))
        return int(self.tee.stream.buffer.write(data))

    def __getattr__(self, name: str) -> Any:
        return getattr(self.tee.stream.buffer, name)


@contextmanager
def recording(digest: str) -> Iterator[None]:
    """Record what is written on stdout inside; keep it if the block exits with 0."""
    tee = _Tee(sys.stdout)
    sys.stdout = tee  # a stand-in with the real stream's traits
    try:
        yield
    except SystemExit as done:
        if done.code in (0, None):
            _store(digest, "".join(tee.written))
        raise
    finally:
        sys.stdout = tee.stream


def _store(digest: str, text: str) -> None:
    where = cache_dir()
    if where is None or not text:
        return
    try:
        where.mkdir(parents=True, exist_ok=True)
        tmp = where / f".help-{digest}.{os.getpid()}"
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(where / f"help-{digest}.txt")
    except OSError:
        return
