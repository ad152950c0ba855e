"""Chaos runs that prove the seed's claims: workload, nemesis, history, checker, report.

* :mod:`.history` — the Jepsen-style operation history the workload records.
* :mod:`.schedule` — the seeded fault schedule (same seed, same schedule).
* :mod:`.checker` — a pure function from (history, ledger, promises, faults) to a report.
* :mod:`.targets` — the small Protocol the runner drives, and its node records.
* :mod:`.workload`, :mod:`.nemesis`, :mod:`.orchestrator` — the run itself.
* :mod:`resonate_rpc_cli.cli.chaos_cmd` — the Typer command ``rpcdemo chaos``.
"""

from __future__ import annotations
