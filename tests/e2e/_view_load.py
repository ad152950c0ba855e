"""Fill a server with many promises (most settled) to measure the live view against."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from resonate_rpc_cli.clients.protocol import ResonateClient

FAR = 10**15


def populate(url: str, settled: int, pending: int, per_root: int = 30) -> None:
    """``settled`` resolved timer promises and ``pending`` pending ones, in call trees of
    ``per_root`` promises, plus an ``await-chain`` root so a flow tree has rows."""
    client = ResonateClient(url, timeout_s=10)

    def create(i: int) -> None:
        root = f"load-{i // per_root}"
        pid = root if i % per_root == 0 else f"{root}:{i % per_root}"
        tags = {"resonate:origin": root}
        if pid != root:
            tags["resonate:parent"] = root
        done = i < settled
        if done:
            tags["resonate:timer"] = "true"
        client.request("promise.create", {
            "id": pid, "timeoutAt": 1 if done else FAR, "param": {}, "tags": tags})

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(create, range(settled + pending)))
    client.request("promise.create", {"id": "await-chain", "timeoutAt": FAR, "param": {},
                                      "tags": {"resonate:origin": "await-chain"}})
