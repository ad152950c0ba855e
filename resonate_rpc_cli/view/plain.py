"""Print styled lines and trees as Rich's console would, without importing Rich when it can.

Importing Rich's console costs about as much as importing Typer (issue 21), for
one line of ``run`` or a few of ``doctor``. :func:`print_lines` and
:func:`print_tree` write exactly the bytes ``view.console``'s consoles would
(same ANSI codes on a terminal, none elsewhere, the same word wrapping and tree
guides), and hand the output to Rich itself whenever that cannot be proved
here: a character that is not printable ASCII (cell widths, tabs, emoji), a
style word not known here, an environment that changes Rich's choices
(``FORCE_COLOR``, ``NO_COLOR``, ``TTY_COMPATIBLE``, ``COLUMNS``, a dumb
terminal, a non-UTF-8 stream, Windows, Jupyter, IDLE).
``tests/unit/test_view_plain.py`` checks the bytes against Rich's.
"""

from __future__ import annotations

import builtins
import itertools
import os
import re
import sys
from collections.abc import Iterator, Sequence
from typing import TextIO

from resonate_rpc_cli.view.lines import Line, Node

#: Environment variables that change how Rich's console decides colour or width.
RICH_ENV = ("FORCE_COLOR", "NO_COLOR", "TTY_COMPATIBLE", "COLUMNS", "JUPYTER_COLUMNS")
#: SGR codes of the style words the views use (Rich's order: attributes, then colour).
ATTRIBUTES = {"bold": "1", "dim": "2", "italic": "3", "underline": "4"}
COLOURS = {name: str(30 + n) for n, name in enumerate(
    ("black", "red", "green", "yellow", "blue", "magenta", "cyan", "white"))}
_WORD = re.compile(r"\s*\S+\s*")  # rich._wrap's word: leading and trailing spaces included
_EMOJI = re.compile(r":\S*?:")  # what rich.emoji's replacement could match
#: Rich's tree guides (``Tree.TREE_GUIDES[0]``): space, continue, fork, end.
GUIDES = ("    ", "│   ", "├── ", "└── ")


class Unsure(Exception):
    """These lines are Rich's to print: the bytes here might differ from its."""


def print_lines(lines: Sequence[Line], *, stderr: bool = False) -> None:
    """Print each line (``Console.print(Group(*texts))`` of ``view.console``'s out or err)."""
    stream = sys.stderr if stderr else sys.stdout
    try:
        terminal, width = console_mode(stream)
        text = "".join(render_line(line, terminal, width) for line in lines)
    except Unsure:
        from resonate_rpc_cli.view.console import err, out  # noqa: PLC0415
        from resonate_rpc_cli.view.richlines import to_group  # noqa: PLC0415

        (err if stderr else out).print(to_group(lines))
        return
    _write(stream, text)


def print_tree(root: Node) -> None:
    """Print a tree on stdout (``Console.print(Tree(...))`` of ``view.console.out``)."""
    stream = sys.stdout
    try:
        terminal, width = console_mode(stream)
        text = "".join(render_line(line, terminal, width, prefix, more)
                       for prefix, more, line in _tree_lines(root, []))
    except Unsure:
        from resonate_rpc_cli.view.console import out  # noqa: PLC0415
        from resonate_rpc_cli.view.richlines import to_tree  # noqa: PLC0415

        out.print(to_tree(root))
        return
    _write(stream, text)


def print_text(text: str, *, stderr: bool = False) -> None:
    """Print a plain string as ``Console.print(text, markup=False)`` does (Rich when the
    string holds what its emoji codes could replace)."""
    if _EMOJI.search(text):
        from resonate_rpc_cli.view.console import err, out  # noqa: PLC0415

        (err if stderr else out).print(text, markup=False)
        return
    print_lines([Line(text)], stderr=stderr)


def _write(stream: TextIO, text: str) -> None:
    stream.write(text)
    stream.flush()


def console_mode(stream: TextIO, env: os._Environ[str] | dict[str, str] | None = None,
                 ) -> tuple[bool, int]:
    """(is a terminal, width) as Rich's ``Console`` sees them for ``stream``; :class:`Unsure`
    where Rich would consult something this does not model."""
    env = os.environ if env is None else env
    if sys.platform == "win32" or any(name in env for name in RICH_ENV):
        raise Unsure
    if env.get("TERM", "").lower() in ("dumb", "unknown"):
        raise Unsure
    if hasattr(builtins, "get_ipython") or \
            getattr(sys.stdin, "__module__", "").startswith("idlelib"):
        raise Unsure
    if not (getattr(stream, "encoding", "utf-8") or "utf-8").lower().startswith("utf"):
        raise Unsure
    try:
        terminal = bool(stream.isatty())
    except ValueError:
        terminal = False
    return terminal, terminal_width()


def terminal_width() -> int:
    """Rich's width: the first of stdin, stdout, stderr that is a terminal, else 80."""
    width = 0
    for fd in (_fileno(sys.__stdin__, 0), _fileno(sys.__stdout__, 1), _fileno(sys.__stderr__, 2)):
        try:
            width = os.get_terminal_size(fd).columns
        except (AttributeError, ValueError, OSError):
            continue
        break
    return width or 80


def _fileno(stream: TextIO | None, default: int) -> int:
    try:
        return stream.fileno() if stream is not None else default
    except Exception:  # Rich falls back to the standard number, as here
        return default


def render_line(line: Line, terminal: bool, width: int, prefix: str = "",
                more: str | None = None) -> str:
    """One line as Rich writes it, wrapped to ``width`` as Rich wraps it (words, then long
    words folded), each piece with its newline; ``prefix`` goes before the first piece,
    ``more`` (default: as wide, blank) before the others (a tree's guides).
    :class:`Unsure` where Rich's cell widths or tab stops could differ (not printable ASCII).
    """
    text = line.plain
    room = width - len(prefix)
    if room < 1 or not _printable(text):
        raise Unsure
    spans: list[tuple[int, int, str]] = [(0, len(text), line.style)] if line.style else []
    offset = 0
    for piece, style in line.parts:
        if style:
            spans.append((offset, offset + len(piece), style))
        offset += len(piece)
    out: list[str] = []
    for start, end in _pieces(text, room):
        lead = prefix if not out else (" " * len(prefix) if more is None else more)
        body = "".join(_sgr(text[a:b], _codes(styles)) if terminal else text[a:b]
                       for a, b, styles in _segments(spans, start, end))
        out.append(f"{lead}{body}\n")
    return "".join(out)


def _printable(text: str) -> bool:
    return all(" " <= ch <= "~" for ch in text)


def _pieces(text: str, width: int) -> Iterator[tuple[int, int]]:
    """Rich's ``Text.wrap`` with the default overflow (fold): the ranges of the wrapped lines,
    whitespace beyond the width dropped, then what still exceeds it cut."""
    cuts = [0, *_breaks(text, width), len(text)]
    for start, end in itertools.pairwise(cuts):
        stop = end
        if stop - start > width:
            spaces = len(text[start:stop]) - len(text[start:stop].rstrip())
            stop -= min(spaces, stop - start - width)
        yield start, min(stop, start + width)


def _breaks(text: str, width: int) -> list[int]:
    """``rich._wrap.divide_line`` for single-cell characters."""
    breaks: list[int] = []
    offset = 0
    for match in _WORD.finditer(text):
        start, word = match.start(), match.group()
        length = len(word.rstrip())
        if width - offset >= length:
            offset += len(word)
        elif length > width:
            chunks = [word[i:i + width] for i in range(0, len(word), width)]
            for n, chunk in enumerate(chunks):
                if start:
                    breaks.append(start)
                if n == len(chunks) - 1:
                    offset = len(chunk)
                else:
                    start += len(chunk)
        elif offset and start:
            breaks.append(start)
            offset = len(word)
    return breaks


def _segments(spans: list[tuple[int, int, str]], start: int, end: int,
              ) -> Iterator[tuple[int, int, list[str]]]:
    """Rich's ``Text.render`` of ``[start, end)``: cut at every styled span's ends, the
    covering styles in span order (the base style first)."""
    inside = [(max(s, start), min(e, end), style) for s, e, style in spans
              if max(s, start) < min(e, end)]
    cuts = sorted({start, end, *(s for s, _, _ in inside), *(e for _, e, _ in inside)})
    for a, b in itertools.pairwise(cuts):
        yield a, b, [style for s, e, style in inside if s <= a and e >= b]


def _codes(styles: list[str]) -> str:
    """The SGR parameters of ``styles`` combined (attributes add up, the last colour wins)."""
    attributes: set[str] = set()
    colour = None
    for style in styles:
        for word in style.split():
            if word in ATTRIBUTES:
                attributes.add(word)
            elif word in COLOURS:
                colour = COLOURS[word]
            else:
                raise Unsure
    codes = [code for name, code in ATTRIBUTES.items() if name in attributes]
    return ";".join([*codes, colour] if colour else codes)


def _sgr(text: str, codes: str) -> str:
    return f"\x1b[{codes}m{text}\x1b[0m" if codes else text


def _tree_lines(node: Node, guides: list[str]) -> Iterator[tuple[str, str, Line]]:
    """(guides of the first line, of the next ones, label) of every node, depth first, as
    Rich's ``Tree`` lays them out."""
    below = guides[:-1] + ([GUIDES[1] if guides[-1] == GUIDES[2] else GUIDES[0]]
                           if guides else [])
    yield "".join(guides), "".join(below), node.label
    for i, child in enumerate(node.children):
        last = i == len(node.children) - 1
        yield from _tree_lines(child, [*below, GUIDES[3] if last else GUIDES[2]])
