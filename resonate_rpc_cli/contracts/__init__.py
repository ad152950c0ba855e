"""Contracts every process shares.

Exit codes and errors, the HOME layout, node naming, the flow oracle, the
ledger and the lifeline. Imports nothing else of rpcdemo: ``services/`` and
every other package may depend on it.
"""
