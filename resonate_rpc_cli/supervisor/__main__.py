"""``python -m resonate_rpc_cli.supervisor --home H --config JSON``: the daemon ``up`` starts."""

from __future__ import annotations

import argparse
import sys

from resonate_rpc_cli.contracts.home import Home
from resonate_rpc_cli.supervisor.daemon import run_daemon
from resonate_rpc_cli.supervisor.topology_config import TopologyConfig


def main() -> None:
    parser = argparse.ArgumentParser(prog="rpcdemo-supervisor")
    parser.add_argument("--home", required=True)
    parser.add_argument("--config", required=True, help="TopologyConfig as JSON")
    args = parser.parse_args()
    sys.exit(run_daemon(Home.resolve(args.home), TopologyConfig.from_json(args.config)))


if __name__ == "__main__":
    main()
