"""The everyday commands' bodies, without Typer: ``status``, ``run``, ``tree``, ``doctor``.

Each takes the parsed values, makes its one core call and prints; it returns the
exit code and raises :class:`~resonate_rpc_cli.contracts.errors.RpcdemoError`
for the one-line failures (``exit_code_of`` maps them). The Typer commands
(``cli/inspection.py``, ``cli/run.py``, ``cli/doctor.py``) and the quick path
(``cli/quick.py``) both call these, so the two print the same and exit the same.
Everything a body needs loads inside it (issue 21: a command loads only what it uses).
"""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Any, TypedDict

from resonate_rpc_cli.contracts.errors import (
    ExitStatus,
    NotRunningError,
    RpcdemoError,
    UsageError,
)
from resonate_rpc_cli.contracts.home import Home

if TYPE_CHECKING:  # the diagnosis loads when doctor runs
    from resonate_rpc_cli.observe.doctor import Diagnosis, DiagnosisJson
    from resonate_rpc_cli.observe.gather import Gathered

class DoctorJson(TypedDict):
    """``doctor --json``."""

    server: str
    stuck_after_s: float
    pending: int
    stuck: int
    diagnoses: list[DiagnosisJson]
    notices: list[str]


#: seconds `run` waits for the result
DEFAULT_TIMEOUT_S = 60.0


def emit_json(data: Any) -> None:
    """``--json`` output: indented, one trailing newline (what ``typer.echo`` writes)."""
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")
    sys.stdout.flush()


def status(home: Home, *, as_json: bool = False) -> int:
    """Server, nodes and promise counts (the ``status --json`` document with ``as_json``)."""
    from resonate_rpc_cli.observe.picture import picture

    pic = picture(home)
    if as_json:
        emit_json(pic.to_dict())
        return ExitStatus.OK
    from resonate_rpc_cli.view.console import out
    from resonate_rpc_cli.view.render import status_view

    out.print(status_view(pic))
    return ExitStatus.OK


def run(home: Home, *, flow: str, promise_id: str | None = None, fresh: bool = False,
        arg: int = 1, wait: bool = False, timeout: float = DEFAULT_TIMEOUT_S,
        as_json: bool = False) -> int:
    """One flow through the gateway (or, on a declared application, through the server as
    the SDK's rpc does: ``cli/declared_run.py``); 1 if it failed or timed out."""
    from resonate_rpc_cli.contracts.flows import flow_named
    from resonate_rpc_cli.observe import flowrun
    from resonate_rpc_cli.observe.declared import declared_app

    declared = declared_app(home)
    if declared is not None:
        from resonate_rpc_cli.cli.declared_run import run_declared

        return run_declared(*declared, flow, promise_id, timeout, as_json)
    try:
        chosen = flow_named(flow)
    except KeyError as exc:
        raise UsageError(str(exc.args[0])) from None
    pid = flowrun.choose_id(chosen, promise_id, fresh)
    if timeout <= 0:
        raise UsageError("--timeout must be positive")
    outcome = flowrun.run_in(home, chosen, pid, arg=arg, wait=wait, timeout_s=timeout)
    if as_json:
        emit_json(outcome.to_dict())
    else:
        from resonate_rpc_cli.view.plain import print_lines
        from resonate_rpc_cli.view.textviews import run_line

        print_lines([run_line(outcome.to_dict())])
    return int(outcome.exit_status)


def tree(home: Home, *, promise_id: str, as_json: bool = False) -> int:
    """One call graph and its states."""
    from resonate_rpc_cli.clients.protocol import ServerUnreachable
    from resonate_rpc_cli.observe.leases import Holders, fetch_leases, stuck_in_tree
    from resonate_rpc_cli.observe.snapshot import PromiseSource, tree_rows
    from resonate_rpc_cli.supervisor.client import SupervisorClient

    status = SupervisorClient(home).status()
    config = status.config
    source = PromiseSource(config.server_url)
    try:
        leases, notice = fetch_leases(source, views_need_it=True)
        rows = tree_rows(source, promise_id, Holders.of(leases, status.nodes).holder)
        stuck = stuck_in_tree(source, promise_id, status.nodes, config, leases, notice)
    except ServerUnreachable as exc:
        raise NotRunningError(str(exc)) from None
    if not rows and source.notice is None:
        raise RpcdemoError(f"no promise {promise_id!r} on {config.server_url}")
    if as_json:
        emit_json({"root": promise_id, "promises": [r.to_dict() for r in rows],
                   "stuck": stuck, "notice": source.notice})
        return ExitStatus.OK
    from resonate_rpc_cli.view.plain import print_text, print_tree
    from resonate_rpc_cli.view.textviews import promise_tree

    print_tree(promise_tree(rows, title=promise_id, flags=stuck))
    if source.notice:
        print_text(source.notice, stderr=True)
    return ExitStatus.OK


def doctor(home: Home, *, promise_id: str | None = None, stuck_after: float | None = None,
           as_json: bool = False) -> int:
    """Why each pending promise is pending; 1 if something is stuck."""
    if stuck_after is not None and stuck_after <= 0:
        raise UsageError("--stuck-after must be > 0 seconds")
    from resonate_rpc_cli.observe.doctor import diagnose, stuck_count
    from resonate_rpc_cli.observe.gather import gather

    found = gather(home, stuck_after, promise_id)
    diagnoses = diagnose(found.facts, only=promise_id)
    if promise_id is not None and not diagnoses:
        return _not_a_pending_call(found, promise_id)
    if as_json:
        emit_json(doctor_document(found, diagnoses))
    else:
        from resonate_rpc_cli.view.plain import print_lines
        from resonate_rpc_cli.view.textviews import doctor_lines

        print_lines(doctor_lines(diagnoses, found.notices, found.facts.stuck_after_s))
    return ExitStatus.FAILED if stuck_count(diagnoses) else ExitStatus.OK


def doctor_document(found: Gathered, diagnoses: list[Diagnosis]) -> DoctorJson:
    """The ``doctor --json`` contract."""
    from resonate_rpc_cli.observe.doctor import stuck_count

    return {
        "server": found.server_url,
        "stuck_after_s": found.facts.stuck_after_s,
        "pending": len(diagnoses),
        "stuck": stuck_count(diagnoses),
        "diagnoses": [d.to_dict() for d in diagnoses],
        "notices": list(found.notices),
    }


def _not_a_pending_call(found: Gathered, promise_id: str) -> int:
    call = found.facts.calls.get(promise_id)
    if call is None:
        raise UsageError(f"no promise {promise_id!r} on {found.server_url}")
    if call.state != "pending":
        from resonate_rpc_cli.view.console import out

        out.print(f"{promise_id} is {call.state}: nothing holds it up")
        return ExitStatus.OK
    raise UsageError(f"{promise_id} is a {call.label} checkpoint, not a call; "
                     f"ask about its parent {call.parent}")
