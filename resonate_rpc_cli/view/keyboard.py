"""Keys from the terminal for the live view: cbreak mode on a TTY, restored whatever happens.

:func:`keys_from` puts the terminal in cbreak mode (no echo, no line buffering; Ctrl-C
still interrupts) for the block and restores the saved settings on the way out, on an
exception too, and yields a :class:`KeyReader`; it yields None when the stream is not a
terminal (a pipe, CI, a test) or the process runs in the background, so the view runs
without keys. :func:`decode` turns the
bytes of a read into key names (``observe/keys.py``'s: one character, or ``up``,
``down``, ``enter``, ``esc``...).
"""

from __future__ import annotations

import contextlib
import os
import select
import termios
import tty
from collections.abc import Iterator
from typing import TextIO

#: escape sequences of the keys the view knows (xterm, tmux, the Linux console)
SEQUENCES = {
    "\x1b[A": "up", "\x1b[B": "down", "\x1b[C": "right", "\x1b[D": "left",
    "\x1bOA": "up", "\x1bOB": "down", "\x1bOC": "right", "\x1bOD": "left",
    "\x1b[H": "home", "\x1b[F": "end", "\x1bOH": "home", "\x1bOF": "end",
    "\x1b[1~": "home", "\x1b[4~": "end", "\x1b[7~": "home", "\x1b[8~": "end",
    "\x1b[5~": "pgup", "\x1b[6~": "pgdn", "\x1b[Z": "backtab", "\x1b[3~": "delete",
}
SINGLE = {"\r": "enter", "\n": "enter", "\t": "tab", "\x7f": "backspace", "\x08": "backspace",
          "\x1b": "esc"}
#: how long the rest of an escape sequence may take to arrive after its ESC
ESC_WAIT_S = 0.03


def decode(text: str) -> list[str]:
    """The key names in ``text`` (unknown escape sequences are dropped whole)."""
    keys: list[str] = []
    i = 0
    while i < len(text):
        if text[i] == "\x1b" and i + 1 < len(text) and text[i + 1] in "[O":
            j = i + 2
            while j < len(text) and not (text[j].isalpha() or text[j] == "~"):
                j += 1
            seq = text[i:j + 1]
            if seq in SEQUENCES:
                keys.append(SEQUENCES[seq])
            i = j + 1
            continue
        char = text[i]
        if char in SINGLE:
            keys.append(SINGLE[char])
        elif char.isprintable():
            keys.append(char)
        i += 1
    return keys


class KeyReader:
    """Reads keys from a terminal in cbreak mode (made by :func:`keys_from`)."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self._pending = b""

    def read(self, timeout_s: float) -> list[str]:
        """The keys pressed within ``timeout_s`` (at once if some are waiting); [] if none."""
        if not self._ready(timeout_s):
            return []
        data = self._pending + os.read(self.fd, 1024)
        cut = data.endswith(b"\x1b") or data[-2:] in (b"\x1b[", b"\x1bO")
        if cut and self._ready(ESC_WAIT_S):  # the rest of an arrow key's sequence
            data += os.read(self.fd, 1024)
        try:
            text = data.decode()
            self._pending = b""
        except UnicodeDecodeError:  # a character cut between two reads
            text = data[:-1].decode(errors="ignore")
            self._pending = data[-1:]
        return decode(text)

    def _ready(self, timeout_s: float) -> bool:
        ready, _, _ = select.select([self.fd], [], [], max(0.0, timeout_s))
        return bool(ready)


@contextlib.contextmanager
def keys_from(stream: TextIO) -> Iterator[KeyReader | None]:
    """A :class:`KeyReader` on ``stream`` in cbreak mode for the block, the terminal's own
    settings restored after it (exception or not); None if ``stream`` is not a terminal."""
    try:
        fd = stream.fileno()
        # a job in the background (`rpcdemo watch &`) would be stopped by changing the
        # terminal's settings: it reads no keys
        saved = termios.tcgetattr(fd) if os.isatty(fd) and _foreground(fd) else None
    except (OSError, ValueError, termios.error):  # closed, not a file, not a terminal
        saved = None
    if saved is None:
        yield None
        return
    try:
        tty.setcbreak(fd, termios.TCSANOW)
        yield KeyReader(fd)
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


def _foreground(fd: int) -> bool:
    """Whether this process may change the terminal ``fd`` without being stopped: it is
    in its foreground process group, or ``fd`` is not its controlling terminal."""
    try:
        return os.tcgetpgrp(fd) == os.getpgrp()
    except OSError:  # not our controlling terminal: no job control applies
        return True
