"""Hub routing and address parsing (pure, no HTTP)."""

from __future__ import annotations

import asyncio

import pytest

from resonate_rpc_cli.server.delivery import Address, Hub, Listener, Push


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("poll://uni@g/p1", Address(False, "g", "p1")),
        ("poll://any@g", Address(True, "g", None)),
        ("poll://any@g/p2", Address(True, "g", "p2")),
        ("poll://uni@g", None),
        ("poll://nope@g/p", None),
        ("http://any@g", None),
        ("poll://g/p", None),
        ("poll://any@/p", None),
        ("", None),
        ("poll://[::1", None),
    ],
)
def test_address_parse(text: str, expected: Address | None) -> None:
    assert Address.parse(text) == expected


def push(address: str, data: str = "m", task_id: str | None = None) -> Push:
    parsed = Address.parse(address)
    assert parsed is not None
    return Push(parsed, data, task_id)


def drain(listener: Listener) -> list[str]:
    out = []
    while not listener.queue.empty():
        out.append(listener.queue.get_nowait().data)
    return out


def listeners(*specs: tuple[str, str]) -> list[Listener]:
    return [Listener(group=g, pid=p, queue=asyncio.Queue()) for g, p in specs]


def test_unicast_reaches_only_its_pid() -> None:
    hub = Hub()
    a, b = listeners(("g", "a"), ("g", "b"))
    hub.connect(a, 0.0)
    hub.connect(b, 0.0)
    hub.deliver(push("poll://uni@g/b"), 0.0)
    assert (drain(a), drain(b)) == ([], ["m"])


def test_anycast_goes_to_one_member_and_spreads() -> None:
    hub = Hub()
    a, b = listeners(("g", "a"), ("g", "b"))
    hub.connect(a, 0.0)
    hub.connect(b, 0.0)
    for i in range(10):
        hub.deliver(push("poll://any@g", str(i)), 0.0)
    got_a, got_b = drain(a), drain(b)
    assert sorted(got_a + got_b, key=int) == [str(i) for i in range(10)]
    assert got_a and got_b


def test_anycast_prefers_the_named_pid_when_live() -> None:
    hub = Hub()
    a, b = listeners(("g", "a"), ("g", "b"))
    hub.connect(a, 0.0)
    hub.connect(b, 0.0)
    for _ in range(4):
        hub.deliver(push("poll://any@g/b"), 0.0)
    assert (len(drain(a)), len(drain(b))) == (0, 4)
    hub.deliver(push("poll://any@g/gone"), 0.0)
    assert len(drain(a)) + len(drain(b)) == 1


def test_held_until_a_member_connects_but_executes_are_not_held() -> None:
    hub = Hub()
    hub.deliver(push("poll://any@g", "unblock"), 0.0)
    hub.deliver(push("poll://any@g", "execute", task_id="t"), 0.0)
    assert len(hub.held) == 1
    (late,) = listeners(("g", "late"))
    hub.connect(late, 1.0)
    assert drain(late) == ["unblock"]
    assert not hub.held


def test_held_messages_are_bounded_in_count_and_age() -> None:
    hub = Hub(hold_max=3, hold_age_s=10.0)
    for i in range(5):
        hub.deliver(push("poll://uni@g/p", str(i)), float(i))
    assert [h.push.data for h in hub.held] == ["2", "3", "4"]
    hub.expire(13.5)
    assert [h.push.data for h in hub.held] == ["4"]
    assert hub.dropped == 4


def test_disconnect_reroutes_queued_messages_by_their_address() -> None:
    hub = Hub()
    a, b = listeners(("g", "a"), ("g", "b"))
    hub.connect(a, 0.0)
    hub.connect(b, 0.0)
    a.queue.put_nowait(push("poll://any@g", "any"))
    a.queue.put_nowait(push("poll://uni@g/a", "mine"))
    hub.disconnect(a, [push("poll://any@g", "unwritten")], 0.0)
    assert sorted(drain(b)) == ["any", "unwritten"]
    assert [h.push.data for h in hub.held] == ["mine"]  # waits for a to reconnect
    (a2,) = listeners(("g", "a"))
    hub.connect(a2, 0.5)
    assert drain(a2) == ["mine"]
    assert hub.connects == {"a": 2, "b": 1}
    assert hub.listener_pids() == {"g": ["b", "a"]}
