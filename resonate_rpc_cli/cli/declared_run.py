"""``rpcdemo run FLOW`` on a declared application (a topology file with ``[flows.NAME]``).

The flow is run by ``observe/declared.py`` (the same call the live view's and the
console's run action make) and its value printed. :func:`run_declared` returns the exit
code (1 if the flow is rejected, differs from its ``expect`` or does not settle within
the timeout) and raises :class:`UsageError` / :class:`NotRunningError` for the one-line
failures. Called by ``cli/everyday.py``'s ``run``, so the Typer command and the quick
path answer alike.
"""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING

from resonate_rpc_cli.contracts.errors import ExitStatus
from resonate_rpc_cli.observe.declared import declared_app, failure, run_flow

if TYPE_CHECKING:
    from resonate_rpc_cli.contracts.app_topology import AppTopology


def run_declared(app_topology: AppTopology, server_url: str, name: str,
                 promise_id: str | None, timeout: float, as_json: bool) -> int:
    """Run the declared flow ``name`` and print its value; the exit code."""
    outcome = run_flow(app_topology, server_url, name, promise_id, timeout)
    if as_json:
        print(json.dumps(outcome.to_dict(), indent=2, default=str))
    else:
        print(json.dumps(outcome.value))
    sys.stdout.flush()
    flow = app_topology.flow(name)
    assert flow is not None, "run_flow refuses an unknown flow"
    why = failure(flow, outcome, timeout)
    if why is None:
        return int(ExitStatus.OK)
    print(f"rpcdemo: {why}", file=sys.stderr)
    return int(ExitStatus.FAILED)


__all__ = ["declared_app", "run_declared"]
