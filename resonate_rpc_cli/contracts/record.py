"""``Record``: a frozen dataclass's behaviour without generating code for each class.

``@dataclass`` writes the source of each class's ``__init__``, ``__repr__``,
``__eq__``, ``__hash__``, ``__setattr__`` and ``__delattr__`` and compiles it
when the class is defined: about 0.5 ms per class here, and the everyday
commands (``status``, ``tree``, ``doctor``) defined 44-50 of them before they
read anything (issue 21). A :class:`Record` subclass gets the same behaviour from
one shared implementation, set up from its annotations in about 0.01 ms; an
instance costs about what a frozen dataclass's does (1.3 µs against 1.1 µs for
five fields; ``benchmarks/README.md``). Use it for the read side's records; a
record that needs ``dataclasses.fields``/``asdict`` (the settings table) stays a
dataclass.

What a subclass gets, as ``@dataclass(frozen=True)`` would give it:

- its fields: the class body's annotated names in order (a ``ClassVar`` is no
  field), after those of a base record; a value in the body is the field's
  default; :func:`field` gives ``default_factory``, ``repr=False`` and
  ``compare=False``. A field without a default after one with a default is a
  ``TypeError`` when the class is defined;
- ``__init__`` taking the fields by position or keyword (``TypeError`` for a missing,
  repeated, unknown or extra argument);
- immutability: assigning or deleting an attribute raises
  :class:`FrozenRecordError` (an ``AttributeError``, as ``FrozenInstanceError`` is);
- ``__eq__``: the same class and equal compared fields (else ``NotImplemented``);
  ``__hash__`` of the compared fields; ``__repr__`` ``Name(field=value, ...)``
  without the ``repr=False`` fields; ``__match_args__``;
- :func:`replace`, as ``dataclasses.replace``.

Not supported (no record here needs them): ``__post_init__``, ``InitVar``,
keyword-only fields, ordering, slots, mutable records, more than one record base
(``TypeError`` at definition). Type checkers treat a
subclass as a frozen dataclass (``typing.dataclass_transform``), so its
constructor calls are checked as a dataclass's are.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar, dataclass_transform, overload

_MISSING: Any = object()


class FrozenRecordError(AttributeError):
    """An assignment to, or deletion of, a record's attribute."""


class _Field:
    """What :func:`field` puts in a class body until the class is defined."""

    __slots__ = ("compare", "default", "factory", "repr")

    def __init__(self, default: Any, factory: Callable[[], Any] | None, repr: bool,
                 compare: bool) -> None:
        self.default, self.factory, self.repr, self.compare = default, factory, repr, compare


@overload
def field[T](*, default: T, repr: bool = True, compare: bool = True) -> T: ...
@overload
def field[T](*, default_factory: Callable[[], T], repr: bool = True,
             compare: bool = True) -> T: ...
@overload
def field(*, repr: bool = True, compare: bool = True) -> Any: ...
def field(*, default: Any = _MISSING, default_factory: Callable[[], Any] | None = None,
          repr: bool = True, compare: bool = True) -> Any:
    """A record field with a default, a default factory, or left out of ``repr``/``==``;
    ``TypeError`` when given both a default and a factory."""
    if default is not _MISSING and default_factory is not None:
        raise TypeError("cannot specify both default and default_factory")
    return _Field(default, default_factory, repr, compare)


@dataclass_transform(frozen_default=True, field_specifiers=(field,))
class Record:
    """Base of a frozen record: subclass it and annotate the fields (see the module)."""

    __slots__ = ()
    #: the fields in order
    _fields: ClassVar[tuple[str, ...]] = ()
    #: field → its default value, or the factory making it (``_factories``)
    _defaults: ClassVar[dict[str, Any]] = {}
    _factories: ClassVar[dict[str, Callable[[], Any]]] = {}
    _compared: ClassVar[tuple[str, ...]] = ()
    _shown: ClassVar[tuple[str, ...]] = ()
    __match_args__: ClassVar[tuple[str, ...]] = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        _check_class(cls)
        fields = list(cls._fields)
        defaults, factories = dict(cls._defaults), dict(cls._factories)
        compared, shown = set(cls._compared), set(cls._shown)
        # the class's own annotations, without importing inspect (whose import costs
        # as much as the records it would save; issue 21)
        own = cls.__dict__.get("__annotations__", {})  # noqa: RUF063
        for name, hint in own.items():
            if _is_classvar(hint):
                continue
            inherited = name in fields
            if not inherited:
                fields.append(name)
            value = cls.__dict__.get(name, _MISSING)
            if isinstance(value, list | dict | set):
                raise ValueError(f"mutable default {type(value)} for field {name} is not "
                                 "allowed: use default_factory")
            spec = value if isinstance(value, _Field) else _Field(value, None, True, True)
            if value is _MISSING and inherited:
                continue  # re-annotated without a value: keeps what the base gave it
            defaults.pop(name, None)
            factories.pop(name, None)
            if spec.factory is not None:
                factories[name] = spec.factory
            elif spec.default is not _MISSING:
                defaults[name] = spec.default
            if isinstance(value, _Field):  # the class attribute is the default, as dataclass's
                if spec.default is _MISSING:
                    delattr(cls, name)
                else:
                    setattr(cls, name, spec.default)
            (compared.add if spec.compare else compared.discard)(name)
            (shown.add if spec.repr else shown.discard)(name)
        seen_default = False
        for name in fields:
            has_default = name in defaults or name in factories
            if seen_default and not has_default:
                raise TypeError(f"non-default argument {name!r} follows default argument")
            seen_default = seen_default or has_default
        cls._fields = tuple(fields)
        cls._defaults, cls._factories = defaults, factories
        cls._compared = tuple(n for n in fields if n in compared)
        cls._shown = tuple(n for n in fields if n in shown)
        cls.__match_args__ = cls._fields  # type: ignore[misc]  # set once, here

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        cls = type(self)
        fields = cls._fields
        if len(args) > len(fields):
            raise TypeError(f"{cls.__qualname__}() takes {len(fields)} arguments "
                            f"but {len(args)} were given")
        values = self.__dict__
        values.update(zip(fields, args, strict=False))
        for name in fields[len(args):]:
            if name in kwargs:
                values[name] = kwargs.pop(name)
            elif name in cls._defaults:
                values[name] = cls._defaults[name]
            elif name in cls._factories:
                values[name] = cls._factories[name]()
            else:
                raise TypeError(f"{cls.__qualname__}() missing required argument: {name!r}")
        if kwargs:
            name = next(iter(kwargs))
            what = "multiple values for" if name in fields else "an unexpected keyword"
            raise TypeError(f"{cls.__qualname__}() got {what} argument {name!r}")

    if not TYPE_CHECKING:  # hidden from type checkers, which would then allow any
        # attribute to be assigned; they know the fields are read-only (frozen_default)

        def __setattr__(self, name: str, value: Any) -> None:
            raise FrozenRecordError(f"cannot assign to field {name!r}")

        def __delattr__(self, name: str) -> None:
            raise FrozenRecordError(f"cannot delete field {name!r}")

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        mine, theirs = self.__dict__, other.__dict__
        return tuple(mine[n] for n in self._compared) == tuple(theirs[n] for n in self._compared)

    def __hash__(self) -> int:
        values = self.__dict__
        return hash(tuple(values[n] for n in self._compared))

    def __replace__(self, **changes: Any) -> Record:
        """``copy.replace`` support, as a dataclass has (see :func:`replace`)."""
        return replace(self, **changes)

    def __repr__(self) -> str:
        values = self.__dict__
        shown = ", ".join(f"{n}={values[n]!r}" for n in self._shown)
        return f"{type(self).__qualname__}({shown})"


def _check_class(cls: type[Record]) -> None:
    """One record base at most (``TypeError``); a class defining ``__eq__`` alone stays
    hashable by its compared fields, as a frozen dataclass does."""
    if sum(isinstance(b, type) and issubclass(b, Record) for b in cls.__bases__) > 1:
        raise TypeError(f"{cls.__qualname__}: a record extends at most one record")
    if "__eq__" in cls.__dict__ and cls.__dict__.get("__hash__", Record.__hash__) is None:
        cls.__hash__ = Record.__hash__  # type: ignore[method-assign]


def replace[R: Record](record: R, **changes: Any) -> R:
    """A copy of ``record`` with ``changes`` (field → value), as ``dataclasses.replace``;
    ``TypeError`` for a name that is no field."""
    values = {n: record.__dict__[n] for n in record._fields}
    for name in changes:
        if name not in values:
            raise TypeError(f"{type(record).__qualname__}() got an unexpected keyword "
                            f"argument {name!r}")
    values.update(changes)
    return type(record)(**values)


def _is_classvar(hint: object) -> bool:
    """Whether an annotation (a string under ``from __future__ import annotations``) is a
    ``ClassVar``."""
    text = hint if isinstance(hint, str) else repr(hint)
    return text.startswith(("ClassVar", "typing.ClassVar", "t.ClassVar"))
