"""Typer's parameter coercion, without pydantic for the plain values our commands take.

Typer coerces every parameter that is not a bool flag through a pydantic
``TypeAdapter`` built on first use; importing pydantic and building the adapters
costs more than importing Typer itself, in every command (the root's ``--home``
is one such parameter). :class:`PlainGroup` (the app's group class) gives each
parameter of the command being run a coercion that converts the plain forms
itself, with the result the adapter gives: a ``str``; a ``bool``; an ``int`` written as
ASCII digits; a ``float`` written as a decimal; a ``Path`` (Typer's own path
checks then run as before); a list of ``str``. Any other value (a malformed
number, ``1.0`` for an int, a range-checked option, a bool from an environment
variable) goes to Typer's adapter, so what is accepted and every error message
stay Typer's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, get_args, get_origin

from typer import _click
from typer._coercion import RuntimeParam, TypeDescriptor, build_runtime_param
from typer._param_types import coerce_cli_path
from typer.core import TyperGroup, _TyperParameter

_INT = re.compile(r"[+-]?[0-9]+")
_FLOAT = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_MISSING = object()


@dataclass(frozen=True)
class PlainRuntimeParam(RuntimeParam):
    """Coerces the plain forms directly; everything else through Typer's own coercion."""

    descriptor: TypeDescriptor | None = None

    def _coerce_value(self, value: Any, param: _TyperParameter, ctx: _click.Context) -> Any:
        plain = self._plain(value, param, ctx)
        if plain is not _MISSING:
            return plain
        assert self.descriptor is not None
        return build_runtime_param(self.descriptor)._coerce_value(value, param=param, ctx=ctx)

    def _plain(self, value: Any, param: _TyperParameter, ctx: _click.Context) -> Any:
        kind, info = self.annotation, self.parameter_info
        if kind is str:
            return value if isinstance(value, str) else _MISSING
        if kind is bool:
            return value if isinstance(value, bool) else _MISSING
        if info.parser is not None or info.min is not None or info.max is not None:
            return _MISSING
        number = isinstance(value, int | float) and not isinstance(value, bool)  # a default
        if kind is int:
            if isinstance(value, int) and number:
                return value
            return int(value) if isinstance(value, str) and _INT.fullmatch(value) else _MISSING
        if kind is float:
            if number:
                return float(value)
            return float(value) if isinstance(value, str) and _FLOAT.fullmatch(value) \
                else _MISSING
        origin: Any = get_origin(kind)
        if origin is list and get_args(kind) == (str,):
            ok = isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value)
            return list(value) if ok else _MISSING
        path_type = info.path_type or kind
        if path_type is Path and isinstance(value, str | Path):
            return coerce_cli_path(Path(value), info, path_type=Path, param=param, ctx=ctx)
        return _MISSING


def plain_params(params: list[_click.Parameter]) -> None:
    """Give every Typer parameter in ``params`` that has no coercion yet the plain one."""
    for param in params:
        if isinstance(param, _TyperParameter) and param._runtime_param is None \
                and param.type_descriptor.file_annotation is None:
            desc = param.type_descriptor
            param._runtime_param = PlainRuntimeParam(
                parameter_info=desc.parameter_info, annotation=desc.annotation,
                descriptor=desc)


class PlainGroup(TyperGroup):
    """A Typer group whose own parameters and resolved subcommand's use the plain coercion."""

    def parse_args(self, ctx: _click.Context, args: list[str]) -> list[str]:
        plain_params(self.get_params(ctx))  # with its --help, a Typer bool option
        return super().parse_args(ctx, args)

    def resolve_command(
        self, ctx: _click.Context, args: list[str],
    ) -> tuple[str | None, _click.Command | None, list[str]]:
        name, command, rest = super().resolve_command(ctx, args)
        if command is not None:  # its context inherits the help option names from ctx
            plain_params(command.get_params(ctx))
        return name, command, rest
