"""The quick path: ``status``, ``run``, ``tree`` and ``doctor`` parsed by hand, without Typer.

Importing Typer costs about as much as everything else these commands do
(issue 21). :func:`parse` reads the command lines people type for them
(``[--home H] status --json``, ``run await-chain --fresh``, ``tree ID``,
``doctor [ID] [--stuck-after S]``, each option once, in any order) and
returns the call of the command's body (``cli/everyday.py``, the one the Typer
command calls too). For anything else it returns ``None`` and Typer parses:
another command, ``--help``, ``--config``, an unknown, repeated or ``--``
option, a value Typer might convert or refuse differently (a number in another
spelling, a value that starts with ``-``, an unreadable ``--home``), a missing
or extra argument. So every usage message and exit code stays Typer's;
``tests/cli/test_quick_path.py`` runs a table of command lines both ways.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Callable
from pathlib import Path

from resonate_rpc_cli.cli import everyday
from resonate_rpc_cli.contracts.home import Home

#: Typer's plain coercion of ``int``/``float`` (``cli/coercion.py``): these spellings only.
_INT = re.compile(r"[+-]?[0-9]+")
_FLOAT = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")

#: a parameter's value as a command line gives it
type Value = str | int | float | bool
#: option -> (parameter, value kind: True/False for a flag, else the converter: None for
#: text Typer would refuse)
Options = dict[str, tuple[str, bool | Callable[[str], Value | None]]]
JSON: Options = {"--json": ("as_json", True)}


def _int(text: str) -> int | None:
    return int(text) if _INT.fullmatch(text) else None


def _float(text: str) -> float | None:
    return float(text) if _FLOAT.fullmatch(text) else None


def _str(text: str) -> str:
    return text


#: command -> (body, positional parameters (name, required), options)
COMMANDS: dict[str, tuple[Callable[..., int], tuple[tuple[str, bool], ...], Options]] = {
    "status": (everyday.status, (), JSON),
    "run": (everyday.run, (("flow", True),), {
        "--id": ("promise_id", _str), "--fresh": ("fresh", True), "--no-fresh": ("fresh", False),
        "--arg": ("arg", _int), "--wait": ("wait", True), "--no-wait": ("wait", False),
        "--timeout": ("timeout", _float), **JSON}),
    "tree": (everyday.tree, (("promise_id", True),), JSON),
    "doctor": (everyday.doctor, (("promise_id", False),), {
        "--stuck-after": ("stuck_after", _float), **JSON}),
}

#: the root's ``--home`` (its environment variable when absent, as click reads it)
HOME_OPTION, HOME_ENV = "--home", "RPCDEMO_HOME"


def parse(argv: list[str], env: dict[str, str] | None = None,
          ) -> Callable[[], int] | None:
    """The body call ``argv`` asks for, or ``None`` when Typer must parse it."""
    env = dict(os.environ) if env is None else env
    raw_home, rest = _root(argv)
    if rest is None or not rest or rest[0] not in COMMANDS:
        return None
    body, positional, options = COMMANDS[rest[0]]
    values = _command(rest[1:], positional, options)
    if raw_home is None:
        raw_home = env.get(HOME_ENV) or None  # click ignores an empty variable
    if values is None or (raw_home is not None and not _plain_home(raw_home)):
        return None
    return functools.partial(_invoke, body, None if raw_home is None else Path(raw_home), values)


def _invoke(body: Callable[..., int], raw_home: Path | None, values: dict[str, Value]) -> int:
    """What Typer's root callback then the command do: resolve HOME, use its key, run."""
    from resonate_rpc_cli.clients.tokens import use_home

    home = Home.resolve(raw_home)
    use_home(home)
    return body(home, **values)


def _root(argv: list[str]) -> tuple[str | None, list[str] | None]:
    """(``--home``'s value, the rest from the command on); rest ``None``: not ours."""
    home: str | None = None
    i = 0
    while i < len(argv) and argv[i].startswith("-"):
        arg = argv[i]
        if home is not None:
            return None, None
        if arg == HOME_OPTION and i + 1 < len(argv) and not argv[i + 1].startswith("-"):
            home, i = argv[i + 1], i + 2
        elif arg.startswith(HOME_OPTION + "="):
            home, i = arg.split("=", 1)[1], i + 1
        else:
            return None, None
    return home, argv[i:]


def _command(args: list[str], positional: tuple[tuple[str, bool], ...], options: Options,
             ) -> dict[str, Value] | None:
    """The parameters of a command's arguments; ``None`` for anything not plainly right."""
    values: dict[str, Value] = {}
    words: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        i += 1
        if not arg.startswith("-"):
            words.append(arg)
            continue
        name, eq, inline = arg.partition("=")
        if name not in options:
            return None
        param, kind = options[name]
        if param in values:
            return None
        if isinstance(kind, bool):
            if eq:
                return None
            values[param] = kind
            continue
        if not eq:
            if i >= len(args):
                return None
            inline, i = args[i], i + 1
        value = kind(inline)
        if value is None or inline.startswith("-"):
            return None
        values[param] = value
    if len(words) > len(positional) or any(
            required and n >= len(words) for n, (_, required) in enumerate(positional)):
        return None
    values.update((name, word) for (name, _), word in zip(positional, words, strict=False))
    return values


def _plain_home(raw: str) -> bool:
    """Whether Typer's path option takes ``--home raw`` as plain ``Path(raw)``: it refuses an
    existing path it cannot read (and an empty one is left to it too)."""
    if not raw:
        return False
    try:
        os.stat(raw)
    except OSError:
        return True
    return os.access(raw, os.R_OK)
