"""Five-field cron expressions: parse, validate, and compute the next run.

``minute hour day-of-month month day-of-week`` (UTC), each field a ``*``, a
number, a range ``a-b``, a step ``*/n`` / ``a-b/n`` / ``a/n``, or a comma list
of those. Day-of-week is 0-6 (Sunday 0; 7 is accepted as Sunday too). As in
Vixie cron, when both day fields are restricted a day matches if *either*
does. Names (``MON``, ``JAN``), ``?``, ``L``, ``W`` and seconds fields are not
supported: :func:`parse` raises :class:`CronError` for them.

The real server (``src/util.rs``) also accepts 6/7-field expressions with
seconds; we accept the five-field form resonate-pg accepts (see
docs/protocol-differences.md).
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

#: (low, high) of each field, in order.
FIELDS = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 7))
#: How far ahead :func:`next_run` looks before giving up (Feb 29 on a Monday needs ~28 years).
HORIZON_YEARS = 30


class CronError(ValueError):
    """The expression is not a valid five-field cron expression."""


@dataclass(frozen=True)
class Cron:
    """The allowed values of each field; ``dom_any``/``dow_any`` when the field was ``*``."""

    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]
    dom_any: bool
    dow_any: bool

    def day_matches(self, day: datetime) -> bool:
        """Whether ``day`` (its date) is a run day, with cron's either-day-field rule."""
        dom = day.day in self.days
        dow = (day.isoweekday() % 7) in self.weekdays
        if self.dom_any and self.dow_any:
            return True
        if self.dom_any:
            return dow
        if self.dow_any:
            return dom
        return dom or dow


def parse(expr: str) -> Cron:
    """Parse ``expr``; raise :class:`CronError` with a one-line reason if it is not valid."""
    parts = expr.split()
    if len(parts) != len(FIELDS):
        raise CronError(f"cron needs 5 fields (minute hour day month weekday), got {len(parts)}")
    sets = [_field(p, lo, hi) for p, (lo, hi) in zip(parts, FIELDS, strict=True)]
    weekdays = frozenset(d % 7 for d in sets[4])
    return Cron(sets[0], sets[1], sets[2], sets[3], weekdays,
                dom_any=parts[2] == "*", dow_any=parts[4] == "*")


def next_run(cron: Cron, after_ms: int) -> int:
    """The first run time (epoch ms, whole minute) strictly after ``after_ms``.

    Raises :class:`CronError` if none falls within :data:`HORIZON_YEARS`
    (e.g. ``0 0 31 2 *``).
    """
    start = datetime.fromtimestamp(after_ms // 60_000 * 60, UTC) + timedelta(minutes=1)
    day = start.replace(hour=0, minute=0)
    end_year = start.year + HORIZON_YEARS
    while day.year < end_year:
        if day.month not in cron.months:
            day = _first_of_next_month(day)
            continue
        if cron.day_matches(day):
            t = _first_time(cron, day, start)
            if t is not None:
                return int(t.timestamp()) * 1000
        day += timedelta(days=1)
    raise CronError("cron expression never fires")


def _first_time(cron: Cron, day: datetime, start: datetime) -> datetime | None:
    for hour in sorted(cron.hours):
        for minute in sorted(cron.minutes):
            t = day.replace(hour=hour, minute=minute)
            if t >= start:
                return t
    return None


def _first_of_next_month(day: datetime) -> datetime:
    last = calendar.monthrange(day.year, day.month)[1]
    return day.replace(day=1) + timedelta(days=last)


def _field(spec: str, lo: int, hi: int) -> frozenset[int]:
    values: set[int] = set()
    for part in spec.split(","):
        values.update(_part(part, lo, hi))
    return frozenset(values)


def _part(part: str, lo: int, hi: int) -> range:
    rng, slash, step_s = part.partition("/")
    step = _number(step_s, 1, hi - lo + 1 if hi > lo else 1) if slash else 1
    if rng == "*":
        a, b = lo, hi
    elif "-" in rng:
        a_s, _, b_s = rng.partition("-")
        a, b = _number(a_s, lo, hi), _number(b_s, lo, hi)
        if a > b:
            raise CronError(f"cron range {rng!r} runs backwards")
    else:
        a = _number(rng, lo, hi)
        b = hi if slash else a
    return range(a, b + 1, step)


def _number(text: str, lo: int, hi: int) -> int:
    if not text.isdigit() or not text.isascii():
        raise CronError(f"cron field value {text!r} is not a number")
    value = int(text)
    if not lo <= value <= hi:
        raise CronError(f"cron value {value} is outside {lo}-{hi}")
    return value
