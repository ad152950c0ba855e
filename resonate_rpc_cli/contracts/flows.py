"""The three flows of the seed, their durable functions, and the value oracle.

This module is the single source of truth for "what is the right answer":
the services compute these values, the gateway routes to these roots, and the
chaos checker compares settled values against :func:`expected_value`.

Values are deterministic functions of the root ``arg`` (an int):

* await chain ``foo(n) -> bar(n) -> baz(n)``: ``baz = n``, ``bar = baz + 1``,
  ``foo = bar + 1``, so the flow answers ``n + 2``.
* detached chain ``qux(n)`` detaches ``quz(n + 1)``, which detaches
  ``cog(n + 2)``; each returns the value it handed on (``qux = n + 1``,
  ``quz = n + 2``) and ``cog`` prints and returns what it got (``n + 2``).
  Nobody awaits the tail: the gateway answers at once.
* fan-out ``zim(n)`` starts ``rax(n)`` and ``dop(n)`` before awaiting either:
  ``rax = n + 1``, ``dop = 2 * n``, ``zim = rax + dop + n = 4n + 1``.
"""

from __future__ import annotations

from collections.abc import Callable

from resonate_rpc_cli.contracts.record import Record

DEFAULT_ARG = 1


class Step(Record):
    """One durable function: its name, the group that runs it, and its value."""

    func: str
    group: str
    module: str

    def value(self, arg: int) -> int:
        """The value this function returns when called with ``arg``."""
        return STEP_VALUES[self.func](arg)


STEP_VALUES: dict[str, Callable[[int], int]] = {
    "baz": lambda n: n,
    "bar": lambda n: n + 1,
    "foo": lambda n: n + 2,
    "cog": lambda n: n,
    "quz": lambda n: n + 1,
    "qux": lambda n: n + 1,
    "rax": lambda n: n + 1,
    "dop": lambda n: 2 * n,
    "zim": lambda n: 4 * n + 1,
}

STEPS: dict[str, Step] = {
    s.func: s
    for s in (
        Step("foo", "service-a", "services.service_a"),
        Step("bar", "service-b", "services.service_b"),
        Step("baz", "service-c", "services.service_c"),
        Step("qux", "service-d", "services.service_d"),
        Step("quz", "service-e", "services.service_e"),
        Step("cog", "service-f", "services.service_f"),
        Step("zim", "service-g", "services.service_g"),
        Step("rax", "service-h", "services.service_h"),
        Step("dop", "service-i", "services.service_i"),
    )
}


class Flow(Record):
    """A gateway route and the durable call graph behind it."""

    name: str
    route: str
    promise_id: str
    root: str
    funcs: tuple[str, ...]
    awaited: bool

    @property
    def root_group(self) -> str:
        return STEPS[self.root].group

    def expected(self, arg: int) -> int:
        """The value the root promise resolves to for ``arg``."""
        return STEP_VALUES[self.root](arg)

    def step_args(self, arg: int) -> dict[str, int]:
        """The argument each function of this flow receives for root ``arg``."""
        if self.name == "detached-chain":
            return {"qux": arg, "quz": arg + 1, "cog": arg + 2}
        return {f: arg for f in self.funcs}


FLOWS: dict[str, Flow] = {
    f.name: f
    for f in (
        Flow("await-chain", "/await-chain", "await-chain", "foo", ("foo", "bar", "baz"), True),
        Flow("detached-chain", "/detached-chain", "detached-chain", "qux",
             ("qux", "quz", "cog"), False),
        Flow("fan-out", "/fan-out-workflow", "fan-out-workflow", "zim",
             ("zim", "rax", "dop"), True),
    )
}

ALIASES = {"fan-out-workflow": "fan-out", "await": "await-chain", "detached": "detached-chain"}


def flow_named(name: str) -> Flow:
    """Look a flow up by name or alias; raise ``KeyError`` naming the valid ones."""
    key = ALIASES.get(name, name)
    if key not in FLOWS:
        valid = ", ".join([*FLOWS, *ALIASES])
        raise KeyError(f"unknown flow {name!r}; valid flows: {valid}")
    return FLOWS[key]


def expected_value(func: str, arg: int) -> int:
    """The value ``func`` must return for ``arg`` (the chaos checker's oracle)."""
    return STEP_VALUES[func](arg)
