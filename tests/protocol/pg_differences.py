"""Cases where resonate-pg answers otherwise than the Rust server, and why.

See docs/protocol-differences.md. Measured through tests/protocol/pgadapter.py; the Rust
server wins, so these are expected failures there.
"""

from __future__ import annotations

_NO_FIELD_CHECKS = "resonate.sql checks presence, not type or range, of this field"
_NO_TAG_RULES = "resonate.sql does not apply the Rust server's tag rules (src/types.rs:282-336)"
_NO_ORIGIN = "resonate.sql has no same-origin rule (src/types.rs:367-370, 482-488)"
_EXTERNAL = ("resonate.sql only lets a task await an 'external' promise (one no task computes "
             "internally), 422 otherwise; the Rust server has no such rule")

PG_DIFFERENCES: dict[str, str] = {
    "create_negative_timeout": _NO_FIELD_CHECKS,
    "create_tag_not_string": "tags are stored as JSONB as given",
    "create_bad_target": "resonate.sql does not parse resonate:target",
    "create_origin_not_prefix": _NO_TAG_RULES,
    "create_delay_without_target": _NO_TAG_RULES,
    "callback_other_origin": _NO_ORIGIN,
    "callback_ok": _EXTERNAL,
    "suspend_ok": _EXTERNAL,
    "suspend_on_settled_redirects": _EXTERNAL,
    "unknown_kind": "an unknown kind falls out of resonate_rpc's CASE as an internal error",
    "promise_search": "resonate.sql answers 501 to the searches",
    "schedule_search": "resonate.sql answers 501 to the searches",
    "task_search": "resonate.sql answers 501 to the searches",
    "acquire_version_not_integer": "the version is cast with ::int, so \"0\" is accepted",
    "fulfill_other_promise": "task_fulfill ignores the action's id and settles the task's own",
    "suspend_awaiter_not_task": "task_suspend ignores the actions' awaiter field",
    "suspend_duplicate_awaited": "400 in resonate.sql; the Rust server deduplicates",
    "fence_unknown_action": "422 in resonate.sql; 400 in the Rust server",
    "heartbeat_no_tasks": "an empty heartbeat is a no-op 200 in resonate.sql",
    "schedule_bad_cron": "resonate.sql's cron parser does not range-check values",
    "schedule_four_fields": "resonate.sql raises on the cron expression differently",
    "schedule_without_target": "resonate.sql does not require resonate:target in promiseTags",
    "schedule_dotted_id": "resonate.sql does not refuse '.' in a schedule id",
}

#: Cases not sent to resonate-pg at all, and why.
PG_SKIPS: dict[str, str] = {
    "schedule_bad_cron": "resonate.sql looks minute by minute, 9 years ahead, for a minute 61 "
    "before refusing: far past the suite's 10 s request timeout",
}
