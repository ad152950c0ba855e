"""Process supervision: the topology's processes, their states, the control socket.

``python -m resonate_rpc_cli.supervisor`` runs the supervisor daemon; the CLI
starts it (``up``) and talks to it over ``HOME/run/control.sock``.
"""
