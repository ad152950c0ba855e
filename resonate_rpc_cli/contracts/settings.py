"""The settings table: each setting declared once, as a field of its config record.

A config record (``TopologyConfig``, ``ServerConfig``) is a frozen dataclass
whose settings are declared with :func:`setting`: the field gives the name, the
type and the default; the :class:`Setting` in its metadata gives the rest: the
value rule, the flag, the topology-file key, the node environment variable and
the help. Everything else reads the table (:func:`table`):

- ``cli/options.py`` makes the Typer options of ``rpcdemo up`` and ``rpcdemo server``;
- :func:`add_arguments` the flags of ``python -m resonate_rpc_cli.server``;
- ``cli/topology_file.py`` the keys of the topology file;
- :func:`validate` checks each value (a :class:`UsageError` naming the flag);
- ``build_launch`` writes each node's environment (``contracts/node_env.py``).

So a new setting is one :func:`setting` entry, plus the code that uses it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, get_type_hints

from resonate_rpc_cli.contracts import values as cv
from resonate_rpc_cli.contracts.node_env import NodeVar

if TYPE_CHECKING:  # argparse only for python -m resonate_rpc_cli.server, not every command
    import argparse

_KEY = "rpcdemo.setting"


@dataclass(frozen=True)
class Setting:
    """How one setting is given, checked and passed on (its field holds name, type, default).

    ``flag`` is the option (``"--ttl"``; a switch may be ``"--memory/--no-memory"``);
    ``toml`` its dotted key in the topology file (``"nodes.ttl"``; top level:
    ``"links"``). ``check`` is the value rule (none: any value). A flag's value
    becomes the setting's through ``parse`` when given, else through ``check``
    when ``flag_type`` (the flag's own type, e.g. ``str`` for a duration) is
    given, else as it is. ``groups``: the value
    is a ``{service group: value}`` table, each value checked by ``check``.
    ``validated`` False: checked where it is used, not by :func:`validate`;
    ``optional``: the default (``None``, ``""``) means unset and is not checked.
    ``node_var``: each node gets the value in this environment variable
    (``node_value(config, group)`` when a group has its own).
    """

    help: str
    check: cv.Check | None = None
    flag: str | None = None
    toml: str | None = None
    label: str | None = None
    metavar: str | None = None
    envvar: str | None = None
    node_var: NodeVar | None = None
    node_value: Callable[[Any, str], Any] | None = None
    flag_type: Any = None
    parse: Callable[[Any], Any] | None = None
    groups: bool = False
    validated: bool = True
    optional: bool = False

    @property
    def option(self) -> str | None:
        """The flag's main name (``--memory`` of ``--memory/--no-memory``)."""
        return self.flag.split("/")[0] if self.flag else None

    @property
    def param(self) -> str | None:
        """The flag as a Python name (``--server-port`` -> ``server_port``)."""
        return self.option.lstrip("-").replace("-", "_") if self.option else None

    @property
    def name(self) -> str:
        """What errors call the setting: its label, else its flag, else its file key."""
        return self.label or self.option or self.toml or "setting"


@dataclass(frozen=True)
class Entry:
    """One row of the table: a field of a config record and its :class:`Setting`."""

    field: str
    type: Any
    default: Any
    setting: Setting

    def is_unset(self, value: Any) -> bool:
        return self.setting.optional and value == self.default

    @property
    def flag_default(self) -> Any:
        """The flag's value when it is not given (``--no-extras``: False; a parsed flag: None)."""
        spec = self.setting
        if spec.flag_type is bool:
            return False
        return None if spec.parse or spec.flag_type else self.default

    def from_flag(self, value: Any) -> Any:
        """The setting's value for the flag's ``value``; :class:`UsageError` naming the flag."""
        spec = self.setting
        if spec.parse is not None:
            return spec.parse(value)
        if spec.flag_type is not None and spec.check is not None:
            return cv.from_flag(spec.name, spec.check, value)
        return value


def setting(default: Any = dataclasses.MISSING, *, factory: Callable[[], Any] | None = None,
            **spec: Any) -> Any:
    """A dataclass field declaring one setting (``spec``: :class:`Setting`'s fields)."""
    metadata = {_KEY: Setting(**spec)}
    if factory is not None:
        return dataclasses.field(default_factory=factory, metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


def table(cls: type[Any]) -> list[Entry]:
    """The settings of config record ``cls``, in field order."""
    hints = get_type_hints(cls)
    rows = []
    for f in dataclasses.fields(cls):
        spec = f.metadata.get(_KEY)
        if isinstance(spec, Setting):
            default = f.default_factory() if f.default is dataclasses.MISSING \
                and f.default_factory is not dataclasses.MISSING else f.default
            rows.append(Entry(f.name, hints[f.name], default, spec))
    return rows


def validate(config: Any) -> None:
    """Check every validated setting of ``config``; :class:`UsageError` ``"<flag> <rule>,
    got <value>"`` for the first bad one."""
    for entry in table(type(config)):
        spec, value = entry.setting, getattr(config, entry.field)
        if spec.check is None or not spec.validated or entry.is_unset(value):
            continue
        if spec.groups:
            for group, each in value.items():
                cv.checked(f"{spec.name} for {group}", spec.check, each)
        else:
            cv.checked(spec.name, spec.check, value)


def build[C](cls: type[C], values: Mapping[str, object]) -> C:
    """The config record ``cls`` from settings by field (:func:`from_flags`, a topology
    file's): each value was checked by its entry's rule where it entered, and the table,
    not the code, decides the keys, so they come as a mapping. ``TypeError`` for a key
    that is no field of ``cls``."""
    return cls(**values)


def from_flags(cls: type[Any], given: Mapping[str, object]) -> dict[str, object]:
    """``{field: value}`` of the flags in ``given`` (by :attr:`Setting.param`; ``None``:
    not given), each through :meth:`Entry.from_flag`."""
    out: dict[str, object] = {}
    for entry in table(cls):
        raw = given.get(entry.setting.param or "")
        if raw is not None:
            out[entry.field] = entry.from_flag(raw)
    return out


def add_arguments(parser: argparse.ArgumentParser, cls: type[Any]) -> None:
    """One argparse flag per setting of ``cls`` with a flag, checked by its rule.

    A bad value is argparse's usage error (exit 2) naming the flag and the rule.
    """
    for entry in table(cls):
        spec = entry.setting
        if spec.option is None:
            continue
        if entry.type is bool or spec.flag_type is bool:
            parser.add_argument(spec.option, dest=spec.param, action="store_true",
                                help=spec.help)
            continue
        default = entry.flag_default
        parser.add_argument(spec.option, dest=spec.param,
                            type=_argument(spec.flag_type or _plain(entry.type), spec.check),
                            default=default, metavar=spec.metavar,
                            help=spec.help + ("" if default is None else " (default %(default)s)"))


def _plain(hint: Any) -> Any:
    """``int`` of ``int | None``."""
    args = [a for a in getattr(hint, "__args__", ()) if a is not type(None)]
    return args[0] if args else hint


def _argument(kind: Any, check: cv.Check | None) -> Callable[[str], Any]:
    import argparse  # noqa: PLC0415 (see the module's imports)

    def convert(text: str) -> Any:
        value = kind(text)
        try:
            return value if check is None else check(value)
        except cv.NotAValue as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None
        except cv.BadValue as exc:
            raise argparse.ArgumentTypeError(f"{exc}, got {text}") from None

    convert.__name__ = getattr(kind, "__name__", "value")
    return convert
