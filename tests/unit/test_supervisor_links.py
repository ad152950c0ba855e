"""The supervisor gives each node its link's URL; a respawn keeps it, scale adds and drops."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from resonate_rpc_cli.contracts.naming import ENV_URL
from resonate_rpc_cli.supervisor import operations
from tests.unit._supervisor_fakes import make_rig


@dataclass
class FakeLinks:
    ports: dict[str, int] = field(default_factory=dict)
    dropped: list[str] = field(default_factory=list)

    def url_for(self, node: str) -> str:
        port = self.ports.setdefault(node, 40000 + len(self.ports))
        return f"http://127.0.0.1:{port}"

    def drop(self, node: str) -> None:
        self.dropped.append(node)

def test_every_node_but_the_server_reaches_it_through_its_own_link(tmp_path: Path) -> None:
    rig = make_rig(tmp_path, replicas={"service-b": 2})
    links = FakeLinks()
    rig.sup.links = links
    rig.steps(4)
    specs = {n.label: n.spec for n in rig.sup.nodes.values()}
    assert "server" not in links.ports and "gateway" in links.ports
    for name, spec in specs.items():
        assert spec is not None
        if name == "server":
            assert ENV_URL not in spec.env
            continue
        assert spec.env[ENV_URL] == f"http://127.0.0.1:{links.ports[name]}"
    first = specs["service-b-2"]
    assert first is not None
    operations.kill(rig.sup, "service-b-2", respawn=True)
    rig.steps(4)
    again = rig.sup.nodes["service-b-2"].spec
    assert again is not None and again.incarnation == 2
    assert again.env[ENV_URL] == first.env[ENV_URL], "a respawned node keeps its link"

def test_scale_adds_links_and_drops_the_links_of_retired_slots(tmp_path: Path) -> None:
    rig = make_rig(tmp_path)
    links = FakeLinks()
    rig.sup.links = links
    rig.steps(4)
    operations.scale(rig.sup, "service-b", 3)
    rig.steps(3)
    assert {"service-b-2", "service-b-3"} <= set(links.ports)
    operations.scale(rig.sup, "service-b", 1)
    rig.steps(3)
    assert sorted(links.dropped) == ["service-b-2", "service-b-3"]

def test_without_links_nodes_get_the_server_url(tmp_path: Path) -> None:
    rig = make_rig(tmp_path)
    rig.steps(4)
    spec = rig.sup.nodes["service-a-1"].spec
    assert spec is not None and spec.env[ENV_URL] == rig.sup.config.server_url
