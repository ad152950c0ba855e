"""The static parts of ``report.html``: its style sheet and the script that draws it.

Kept apart from :mod:`.chaos_html` (which fills in the data) so that file
stays short. The script reads the JSON in ``<script id="rpcdemo-data">``,
draws the timeline and the latency chart as inline SVG, fills the tables, and
finally sets ``data-drawn`` on ``<body>``: a browser test waits for that mark.
Nothing here loads anything from the network.

The drawing itself is one function, :data:`DRAW_TIMELINE`'s
``rpcdemoDrawTimeline(model, into)``, with its styles in :data:`TIMELINE_STYLE`:
the browser console (``web/``) draws a running chaos run's timeline with the
very same code, again at each update.
"""

from __future__ import annotations

TIMELINE_STYLE = """
svg text { font: 11px system-ui, sans-serif; fill: #333; }
rect.bar { fill: #4a78c2; } rect.bar.reexec { fill: #e08a00; stroke: #b3261e; stroke-width: 1.5; }
rect.bar.cut { fill-opacity: .45; }
rect.attempt.ok { fill: #6aa86f; } rect.attempt.info { fill: #d9a400; }
rect.attempt.fail { fill: #b3261e; }
g.band rect, rect.lat-band { fill: #b3261e; fill-opacity: .14; }
g.band.partition rect, g.band.delay rect, g.band.reset rect { fill: #7b3fb5; }
line.lane { stroke: #eee; } circle.pt { fill: #4a78c2; fill-opacity: .7; }
"""

STYLE = """
body { font: 13px system-ui, sans-serif; margin: 16px; color: #222; }
h1 { font-size: 18px; margin: 0 0 8px; } h2 { font-size: 15px; margin: 18px 0 6px; }
.verdict { padding: 2px 8px; border-radius: 4px; color: #fff; font-weight: bold; }
.pass { background: #2a7d2e; } .fail { background: #b3261e; } .unknown { background: #b07d00; }
table { border-collapse: collapse; } td, th { padding: 2px 8px; border-bottom: 1px solid #ddd;
  text-align: left; } td.n { text-align: right; font-variant-numeric: tabular-nums; }
.grid { display: flex; gap: 24px; flex-wrap: wrap; align-items: flex-start; }
.reasons li { color: #8a4b00; }
""" + TIMELINE_STYLE

DRAW_TIMELINE = r"""
// rpcdemoDrawTimeline(m, into): draw a chaos run's timeline model (view/chaos_timeline.py)
// as inline SVG: the lanes, step bars, flow attempts and fault bands into ``into.tl``, the
// flow latency with the same bands into ``into.lat`` (``into.width``: default 1100 px).
// Returns what it drew: {bars, reexec, bands} (a bar counts the n executions it stands for).
function rpcdemoDrawTimeline(m, into) {
  const NS = 'http://www.w3.org/2000/svg';
  const W = into.width || 1100, LABEL = 170, LANE = 16;
  const x = t => LABEL + (W - LABEL - 10) * t / m.span;
  function el(tag, attrs, parent, text) {
    const e = document.createElementNS(NS, tag);
    for (const k in attrs) e.setAttribute(k, attrs[k]);
    if (text !== undefined) e.textContent = text;
    if (parent) parent.appendChild(e);
    return e;
  }
  function tip(e, text) { el('title', {}, e, text); return e; }
  function axis(svg, y) {
    for (let i = 0; i <= 10; i++) {
      const t = m.span * i / 10;
      el('text', {x: x(t) - 8, y: y}, svg, (t / 1000).toFixed(1) + 's');
    }
  }
  function timeline() {
    const row = {}; m.lanes.forEach((l, i) => { row[l.id] = i; });
    const h = m.lanes.length * LANE + 24;
    const svg = el('svg', {width: W, height: h, id: 'timeline'}, into.tl);
    m.lanes.forEach((l, i) => {
      el('line', {x1: LABEL, x2: W, y1: i * LANE + LANE, y2: i * LANE + LANE, class: 'lane'}, svg);
      el('text', {x: 4, y: i * LANE + 12, class: 'lane-label ' + l.kind}, svg, l.label);
    });
    m.bands.forEach(b => {
      const g = el('g', {class: 'band ' + b.kind, 'data-index': b.index}, svg);
      tip(g, `fault ${b.index}: ${b.kind} ${b.target}` + (b.held ? ` (held ${b.held})` : ''));
      b.lanes.forEach(id => el('rect', {x: x(b.t0), y: row[id] * LANE + 1,
        width: Math.max(2, x(b.t1) - x(b.t0)), height: LANE - 1}, g));
    });
    m.bars.forEach(b => tip(el('rect', {x: x(b.t0), y: row[b.lane] * LANE + 3,
      width: Math.max(1.5, x(b.t1) - x(b.t0)), height: LANE - 6, 'data-n': b.n || 1,
      class: 'bar' + (b.reexec ? ' reexec' : '') + (b.cut ? ' cut' : '')}, svg),
      b.title + (b.reexec ? ' (re-executed)' : '') + (b.cut ? ' (never ended)' : '')));
    m.attempts.forEach(a => tip(el('rect', {x: x(a.t0), y: row[a.lane] * LANE + 4,
      width: Math.max(1, x(a.t1) - x(a.t0)), height: LANE - 8,
      class: 'attempt ' + a.type}, svg), a.title));
    axis(svg, h - 4);
    return svg;
  }
  function latency() {
    const H = 220, top = 10, bottom = H - 24;
    const max = Math.max(1, ...m.latency.map(p => p.ms));
    const y = v => bottom - (bottom - top) * v / max;
    const svg = el('svg', {width: W, height: H, id: 'latency'}, into.lat);
    m.bands.forEach(b => tip(el('rect', {x: x(b.t0), y: top, height: bottom - top,
      width: Math.max(2, x(b.t1) - x(b.t0)), class: 'lat-band'}, svg),
      `fault ${b.index}: ${b.kind}`));
    el('text', {x: 4, y: top + 10}, svg, max + ' ms');
    el('text', {x: 4, y: bottom}, svg, '0 ms');
    m.latency.forEach(p => tip(el('circle', {cx: x(p.t), cy: y(p.ms), r: 2.5, class: 'pt'}, svg),
      `${p.id}: ${p.ms} ms`));
    axis(svg, H - 4);
  }
  const svg = timeline();
  latency();
  const total = sel => Array.from(svg.querySelectorAll(sel))
    .reduce((n, e) => n + Number(e.getAttribute('data-n') || 1), 0);
  return {bars: total('rect.bar'), reexec: total('rect.bar.reexec'),
          bands: svg.querySelectorAll('g.band').length};
}
"""

SCRIPT = DRAW_TIMELINE + r"""
(function () {
  const data = JSON.parse(document.getElementById('rpcdemo-data').textContent);
  const m = data.model;
  function recovery() {
    const body = document.querySelector('#recovery tbody');
    const per = {}; (m.recovery || []).forEach(r => { per[r.index] = r.recovery_s; });
    (data.report.fault_log || []).forEach(f => {
      const tr = document.createElement('tr');
      const rec = per[f.index];
      [f.index, f.kind, f.target || '-', f.landed ? 'yes' : 'no', (f.held || []).length,
       f.down_ms == null ? '-' : (f.down_ms / 1000).toFixed(2) + 's',
       rec == null ? '-' : rec.toFixed(2) + 's', f.error || ''].forEach(v => {
        const td = document.createElement('td'); td.textContent = v; tr.appendChild(td);
      });
      body.appendChild(tr);
    });
  }
  const counts = rpcdemoDrawTimeline(m, {tl: document.getElementById('tl'),
                                         lat: document.getElementById('lat')});
  recovery();
  const drawn = document.body.dataset;
  drawn.bars = counts.bars;
  drawn.reexec = counts.reexec;
  drawn.bands = counts.bands;
  drawn.drawn = '1';
})();
"""
