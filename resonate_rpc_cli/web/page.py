"""The console's page: one HTML document with its style and script inline.

The style and the script are hand-written files beside this module
(``static/console.css``, ``static/console.js``), read once, with the chaos
report's own timeline drawing and its styles (``view/chaos_html_page.py``);
every response carries them under a fresh CSP nonce, so the page loads nothing
else, from anywhere.
"""

from __future__ import annotations

import functools
from importlib import resources

from resonate_rpc_cli.view.chaos_html_page import DRAW_TIMELINE, TIMELINE_STYLE

BODY = """<header><h1>rpcdemo console</h1><span id=where></span><span id=counts></span></header>
<div id=banner></div>
<main>
<section class=wide><h2>Nodes</h2>
<table id=nodes><thead><tr><th>node</th><th>state</th><th>pid</th><th>restarts</th>
<th>holds (lease left)</th><th>link</th><th>cpu mem</th><th>actions</th></tr></thead>
<tbody></tbody></table>
<p>scale: <span id=scale></span></p><p id=notice class=notice></p></section>
<section class=wide><h2>Call graphs</h2>
<p id=run>run a flow: <span id=run-buttons></span> argument
<input id=run-arg class=num value="1" aria-label="flow argument"></p>
<p id=flows-empty class=muted>no call graphs yet: run a flow</p><div id=flows class=flows></div>
<div id=promise-panel><b id=promise-id></b><br>
value (JSON) <input id=promise-value value="" placeholder='{"ok": true}'>
<span id=promise-actions></span></div></section>
<section><h2>Events</h2><pre id=events></pre></section>
<section><h2>Links</h2><div id=links></div><h2>Faults in force</h2><div id=faults></div></section>
<section class=wide id=chaos-section hidden><h2>Chaos run</h2><div id=chaos></div></section>
</main>
<div id=toast></div>"""


@functools.cache
def _asset(name: str) -> str:
    return (resources.files("resonate_rpc_cli.web") / "static" / name).read_text("utf-8")


def _embed(text: str) -> str:
    """JSON text safe inside ``<script>`` (no ``</script>`` can end it early)."""
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def render_page(nonce: str, state_json: str = "null") -> str:
    """The whole page, its inline style and script marked with ``nonce`` (the CSP's), and
    ``state_json`` (the feed's latest document) so the first frame needs no round trip."""
    return (f"<!doctype html>\n<html lang=en><head><meta charset=utf-8>"
            f"<meta name=referrer content=no-referrer><title>rpcdemo console</title>"
            f"<link rel=icon href=\"data:,\">"
            f"<style nonce=\"{nonce}\">{TIMELINE_STYLE}{_asset('console.css')}</style></head>\n"
            f"<body>{BODY}\n<script type=application/json id=initial-state>"
            f"{_embed(state_json)}</script>\n"
            f"<script nonce=\"{nonce}\">{DRAW_TIMELINE}{_asset('console.js')}</script>"
            f"</body></html>\n")
