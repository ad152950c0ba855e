"""Control requests answered with their effect: the answer waits until the effect is there."""

from __future__ import annotations

from pathlib import Path
from typing import Unpack

from resonate_rpc_cli.supervisor.control import Request, RequestArgs
from resonate_rpc_cli.supervisor.requests import Waiting, reply
from tests.unit._supervisor_fakes import Rig, make_rig


def ready_rig(tmp_path: Path) -> Rig:
    rig = make_rig(tmp_path)
    rig.steps(4)
    assert set(rig.states().values()) == {"ready"}
    return rig


def send(rig: Rig, op: str, **args: Unpack[RequestArgs]) -> tuple[Request, Waiting | None]:
    request = Request(op, args)
    return request, reply(rig.sup, request)


def test_kill_with_respawn_answers_once_the_new_incarnation_runs(tmp_path: Path) -> None:
    rig = ready_rig(tmp_path)
    old = rig.pid("service-b-1")
    request, waiting = send(rig, "kill", target="service-b-1", respawn=True, wait_s=5.0)
    assert waiting is not None and not request.reply.done()
    rig.steps(2)
    assert waiting.settle(rig.sup, now=0.0)
    answer = request.reply.result()["result"]
    assert answer["killed"][0]["pid"] == old
    (new,) = answer["respawned"]
    assert new["name"] == "service-b-1" and new["pid"] not in (None, old)


def test_without_wait_the_answer_is_immediate_and_as_before(tmp_path: Path) -> None:
    rig = ready_rig(tmp_path)
    request, waiting = send(rig, "kill", target="service-b-1", respawn=True)
    assert waiting is None
    assert set(request.reply.result()["result"]) == {"killed", "respawn_pending"}


def test_scale_waits_for_ready_nodes_and_says_what_is_late(tmp_path: Path) -> None:
    rig = ready_rig(tmp_path)
    rig.probe.slow.add("service-c-2")
    request, waiting = send(rig, "scale", group="service-c", count=2, wait_s=1.0)
    assert waiting is not None
    rig.steps(3)
    assert not waiting.settle(rig.sup, now=0.0)
    assert waiting.settle(rig.sup, now=waiting.deadline)
    answer = request.reply.result()
    assert answer["ok"] is False and answer["status"] == 3
    assert "service-c did not reach 2 ready node(s) within 1s" in answer["error"]
    assert "service-c-2 starting" in answer["error"]


def test_a_refused_request_is_answered_at_once(tmp_path: Path) -> None:
    rig = ready_rig(tmp_path)
    request, waiting = send(rig, "respawn", target="service-b", wait_s=5.0)
    assert waiting is None
    answer = request.reply.result()
    assert answer["ok"] is False and answer["status"] == 2
    assert "nothing to respawn" in answer["error"]
