"""An order saga on Resonate: orders, payments and inventory, one worker process per group.

A plain Resonate application: it imports the public SDK (``resonate-sdk`` 0.8.1) and the
standard library, reads ``RESONATE_URL`` like any Resonate worker, and knows nothing of
the tool that starts it. ``python -m saga.orders`` (or ``.payments``, ``.inventory``) runs
one worker of that group until SIGTERM.
"""
