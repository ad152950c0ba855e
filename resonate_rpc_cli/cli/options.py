"""Typer options made from a settings table (``contracts/settings.py``).

:func:`setting_options` adds one ``typer.Option`` per setting with a flag to a
command's signature (``inspect.Signature``), so ``--help`` lists each flag with
its help, and hands the command the flags as ``{field: value}`` in its
``settings`` parameter, parsed (a bad value is a ``UsageError`` naming the flag,
raised when the command runs, inside its error wrapper).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Annotated, Any

import typer

from resonate_rpc_cli.contracts.settings import Entry, table

#: the parameter of a decorated command that receives the settings
SETTINGS_PARAM = "settings"


def setting_options[**P](
    cls: type[Any], *, overrides: bool,
) -> Callable[[Callable[P, None]], Callable[..., None]]:
    """Give the decorated command the flags of ``cls``'s settings, in table order, where
    its ``settings`` parameter stands.

    ``overrides``: every flag defaults to ``None`` (not given) and ``settings``
    holds only the flags given (they override a file); else each flag defaults
    to the setting's own default and ``settings`` holds them all.
    """
    rows = [e for e in table(cls) if e.setting.param]

    def decorate(fn: Callable[P, None]) -> Callable[..., None]:
        signature = inspect.signature(fn, eval_str=True)
        params = list(signature.parameters.values())
        at = [p.name for p in params].index(SETTINGS_PARAM)
        made = [_parameter(e, overrides) for e in rows]

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> None:
            given = {e.field: kwargs.pop(e.setting.param or "") for e in rows}
            kwargs[SETTINGS_PARAM] = {field: rows_by_field[field].from_flag(value)
                                      for field, value in given.items() if value is not None}
            fn(*args, **kwargs)

        rows_by_field = {e.field: e for e in rows}
        wrapper.__signature__ = signature.replace(  # type: ignore[attr-defined]
            parameters=[*params[:at], *made, *params[at + 1:]])
        return wrapper

    return decorate


def _parameter(entry: Entry, overrides: bool) -> inspect.Parameter:
    spec = entry.setting
    kind = spec.flag_type or entry.type
    decls = [spec.flag] if spec.flag else []
    option = typer.Option(*decls, help=spec.help, metavar=spec.metavar, envvar=spec.envvar,
                          show_default=not overrides and entry.flag_default is not None)
    if overrides:
        return inspect.Parameter(spec.param or "", inspect.Parameter.KEYWORD_ONLY, default=None,
                                 annotation=Annotated[kind | None, option])
    return inspect.Parameter(spec.param or "", inspect.Parameter.KEYWORD_ONLY,
                             default=entry.flag_default, annotation=Annotated[kind, option])
