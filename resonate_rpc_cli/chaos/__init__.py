"""Chaos runs that prove the seed's claims: workload, nemesis, history, checker, report.

* :mod:`.options` — what a run is asked for (the flags, or a report's: replay), its flows.
* :mod:`.schedule` — the seeded fault schedule (same seed, same schedule).
* :mod:`.topology` — what the runner needs from a topology (a Protocol), the supervisor's.
* :mod:`.nemesis` — plays the schedule: strikes, confirms and heals each fault.
* :mod:`.workload` — sends the flows: to the gateway, or a declared application's.
* :mod:`.history` — what happened: operations, flows, the fault log, the server's journal.
* :mod:`.orchestrator` — one run: the order of events, a ``RunRecord`` out.
* :mod:`.measures` — what a run measured: steps, recovery, latency, stale holders, invariants.
* :mod:`.checker` — the seed's checker; :mod:`.verdict` — a declared application's.
* :mod:`.report` — the report's files, shape and progress; :mod:`.session` — a whole run,
  judged and written (``rpcdemo chaos`` without the CLI: ``cli/chaos_cmd.py``).
"""

from __future__ import annotations
