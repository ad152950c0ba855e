"""Chaos runs that prove the seed's claims: workload, nemesis, history, checker, report.

* :mod:`.history` — the Jepsen-style operation history the workload records.
* :mod:`.schedule` — the seeded fault schedule (same seed, same schedule).
* :mod:`.checker` — a pure function from (history, ledger, promises, faults) to a report.
* :mod:`.topology` — the small Protocol the runner drives, and its node records.
* :mod:`.workload`, :mod:`.nemesis`, :mod:`.runner` — the run itself.
* :mod:`.command` — the Typer command ``rpcdemo chaos``.
"""

from __future__ import annotations
