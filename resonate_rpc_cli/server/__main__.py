"""``python -m resonate_rpc_cli.server``: run the embedded server in the foreground."""

from __future__ import annotations

import argparse
import logging

from aiohttp import web

from resonate_rpc_cli.server.app import EmbeddedServer, ServerConfig


def main() -> None:
    parser = argparse.ArgumentParser(prog="rpcdemo-server")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    parser.add_argument("--stream-lifetime", type=float, default=240.0)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    server = EmbeddedServer(
        ServerConfig(host=args.host, port=args.port, stream_lifetime_s=args.stream_lifetime)
    )
    print(f"rpcdemo embedded server (memory) on http://{args.host}:{args.port}", flush=True)
    web.run_app(server.make_app(), host=args.host, port=args.port, print=None)


if __name__ == "__main__":
    main()
