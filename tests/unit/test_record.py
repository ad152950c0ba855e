"""``contracts/record.py``: a Record behaves as the frozen dataclass it replaced.

Each check builds the same record both ways (``Row`` a :class:`Record`, ``DRow``
``@dataclass(frozen=True)`` with the same fields) and compares what a caller sees:
construction, defaults, equality, hashing, repr, immutability, replace, pickling,
matching.
"""

from __future__ import annotations

import copy
import dataclasses
import pickle
from typing import ClassVar

import pytest
from hypothesis import given
from hypothesis import strategies as st

from resonate_rpc_cli.contracts.record import FrozenRecordError, Record, field, replace


class Row(Record):
    """A record with every kind of field a record here has."""

    LIMIT: ClassVar[int] = 3
    name: str
    count: int
    note: str | None = None
    tags: tuple[str, ...] = ()
    extra: dict[str, int] = field(default_factory=dict)
    raw: str = field(default="", repr=False, compare=False)

    def label(self) -> str:
        return f"{self.name}#{self.count}"


@dataclasses.dataclass(frozen=True)
class DRow:
    LIMIT: ClassVar[int] = 3
    name: str
    count: int
    note: str | None = None
    tags: tuple[str, ...] = ()
    extra: dict[str, int] = dataclasses.field(default_factory=dict)
    raw: str = dataclasses.field(default="", repr=False, compare=False)


class Wider(Row):
    """A record extending another: its fields come after the base's."""

    more: int = 0


values = st.fixed_dictionaries(
    {"name": st.text(max_size=5), "count": st.integers()},
    optional={"note": st.none() | st.text(max_size=3),
              "tags": st.lists(st.text(max_size=2), max_size=2).map(tuple),
              "extra": st.dictionaries(st.text(max_size=2), st.integers(), max_size=2),
              "raw": st.text(max_size=3)})


def both(kw: dict[str, object]) -> tuple[Row, DRow]:
    return Row(**kw), DRow(**kw)  # type: ignore[arg-type]


def repr_of(row: Row) -> str:
    return repr(row).replace("Row(", "DRow(", 1)


@given(values, values)
def test_equality_repr_and_fields_match_a_frozen_dataclass(a: dict[str, object],
                                                           b: dict[str, object]) -> None:
    ra, da = both(a)
    rb, db = both(b)
    assert (ra == rb) is (da == db)
    assert (ra != rb) is (da != db)
    assert repr_of(ra) == repr(da)
    assert ra.__match_args__ == DRow.__match_args__
    for f in dataclasses.fields(DRow):
        assert getattr(ra, f.name) == getattr(da, f.name)


@given(values)
def test_positional_construction(kw: dict[str, object]) -> None:
    args = [kw.get(f.name, f.default if f.default is not dataclasses.MISSING else {})
            for f in dataclasses.fields(DRow)]
    assert repr_of(Row(*args)) == repr(DRow(*args))  # type: ignore[arg-type]


@given(st.text(max_size=5), st.integers(), st.none() | st.text(max_size=3),
       st.lists(st.text(max_size=2), max_size=2).map(tuple), st.text(max_size=3))
def test_hash_is_of_the_compared_fields(name: str, count: int, note: str | None,
                                        tags: tuple[str, ...], raw: str) -> None:
    class Key(Record):
        name: str
        count: int
        note: str | None
        tags: tuple[str, ...]
        raw: str = field(default="", compare=False)

    key = Key(name, count, note, tags, raw)
    assert hash(key) == hash(Key(name, count, note, tags)) == hash((name, count, note, tags))
    assert len({key, Key(name, count, note, tags, raw + "x")}) == 1


def test_a_mutable_field_makes_it_unhashable_as_a_dataclass() -> None:
    with pytest.raises(TypeError):
        hash(DRow("a", 1))
    with pytest.raises(TypeError):
        hash(Row("a", 1))


def test_defaults_factories_and_class_attributes_are_a_dataclass_s() -> None:
    one, two = Row("a", 1), Row("a", 1)
    assert one.extra == {} and one.extra is not two.extra  # a new dict per record
    assert Row.note is None and Row.raw == "" and Row.LIMIT == 3
    assert "extra" not in Row.__dict__  # as dataclasses leave no class attribute for it
    assert Row("a", 1, raw="x") == Row("a", 1, raw="y")  # compare=False
    assert Row("a", 1) != DRow("a", 1)  # another class: not equal (NotImplemented both ways)
    assert Row("a", 1).__eq__(DRow("a", 1)) is NotImplemented
    assert Row("a", 2).label() == "a#2"


def test_nan_fields_compare_as_a_dataclass_s_tuple_does() -> None:
    nan = float("nan")
    assert Row("a", 1, tags=(nan,)) == Row("a", 1, tags=(nan,))  # type: ignore[arg-type]
    assert DRow("a", 1, tags=(nan,)) == DRow("a", 1, tags=(nan,))  # type: ignore[arg-type]


def test_frozen() -> None:
    row = Row("a", 1)
    with pytest.raises(FrozenRecordError):
        row.count = 2  # type: ignore[misc]
    with pytest.raises(AttributeError):
        del row.name
    with pytest.raises(AttributeError):
        row.other = 1  # type: ignore[attr-defined]
    assert row == Row("a", 1)


@pytest.mark.parametrize("call", [
    lambda: Row("a"),  # type: ignore[call-arg]
    lambda: Row("a", 1, None, (), {}, "", "too many"),  # type: ignore[call-arg]
    lambda: Row("a", 1, name="b"),  # type: ignore[misc]
    lambda: Row("a", 1, colour="red"),  # type: ignore[call-arg]
])
def test_bad_arguments_are_type_errors(call: object) -> None:
    with pytest.raises(TypeError):
        call()  # type: ignore[operator]


def test_a_field_without_default_after_one_with_default_is_refused() -> None:
    with pytest.raises(TypeError, match="non-default argument 'b'"):
        class Bad(Record):
            a: int = 0
            b: int  # type: ignore[misc]  # what the test is about


def test_field_refuses_a_default_and_a_factory() -> None:
    with pytest.raises(TypeError):
        field(default=1, default_factory=int)  # type: ignore[call-overload]


def test_replace_pickle_copy_and_match() -> None:
    row = Row("a", 1, tags=("x",), extra={"k": 1}, raw="r")
    changed = replace(row, count=2)
    assert changed == Row("a", 2, tags=("x",), extra={"k": 1}) and changed.raw == "r"
    assert row.count == 1
    with pytest.raises(TypeError):
        replace(row, colour="red")
    for twin in (pickle.loads(pickle.dumps(row)), copy.copy(row), copy.deepcopy(row)):
        assert type(twin) is Row and twin == row and twin.raw == "r"
    match row:
        case Row(name, count):
            assert (name, count) == ("a", 1)
        case _:
            pytest.fail("no match")


def test_a_record_extending_another() -> None:
    wide = Wider("a", 1, more=5)
    assert wide._fields == (*Row._fields, "more")
    assert repr(wide) == "Wider(name='a', count=1, note=None, tags=(), extra={}, more=5)"
    assert wide != Wider("a", 1) and wide == Wider("a", 1, more=5)


def test_the_dataclass_rules_a_record_keeps_beyond_the_basics() -> None:
    class Base(Record):
        a: int = 1

    class Again(Base):
        a: int  # re-annotated without a value: the default stays, as in a dataclass

    assert Again() == Again(a=1)  # type: ignore[call-arg]  # (mypy: no default)
    assert Base().__replace__(a=5) == Base(a=5)  # copy.replace's hook

    class Custom(Record):  # noqa: PLW1641
        x: int

        def __eq__(self, other: object) -> bool:
            return isinstance(other, Custom) and other.x % 2 == self.x % 2

    assert hash(Custom(1)) == hash(Custom(1))  # still hashable, as a frozen dataclass
    with pytest.raises(ValueError, match="mutable default"):
        class Shared(Record):
            items: list[int] = []

    class Other(Record):
        b: int = 2

    with pytest.raises(TypeError, match="at most one record"):
        class Both(Base, Other):
            pass
