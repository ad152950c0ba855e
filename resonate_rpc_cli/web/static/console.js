// rpcdemo console: hand-written, no library, nothing loaded from the network.
// It draws what the console's server-sent events carry (the live view's model) and sends
// each button press to POST /api/action; it never polls by itself.
(function () {
  'use strict';
  const TOKEN = new URLSearchParams(location.search).get('token') || '';
  const NS = 'http://www.w3.org/2000/svg';
  const $ = id => document.getElementById(id);
  let doc = null, selected = null, firstDrawn = false;
  const scaleValues = {};
  const MAX_EVENTS = 300, events = [], seenEvents = new Set();

  function h(tag, attrs, parent, text) {
    const e = document.createElement(tag);
    for (const k in attrs || {}) e.setAttribute(k, attrs[k]);
    if (text !== undefined && text !== null) e.textContent = String(text);
    if (parent) parent.appendChild(e);
    return e;
  }
  function s(tag, attrs, parent, text) {
    const e = document.createElementNS(NS, tag);
    for (const k in attrs || {}) e.setAttribute(k, attrs[k]);
    if (text !== undefined && text !== null) e.textContent = String(text);
    if (parent) parent.appendChild(e);
    return e;
  }
  function toast(text, error) {
    const t = $('toast');
    t.textContent = text; t.className = 'show' + (error ? ' error' : '');
    clearTimeout(toast.timer); toast.timer = setTimeout(() => { t.className = ''; }, 4000);
  }

  // ---- actions -------------------------------------------------------------------------
  async function act(action, target, extra) {
    const body = Object.assign({action: action, target: target}, extra || {});
    document.body.dataset.acting = action + ' ' + target;
    try {
      const r = await fetch('/api/action', {method: 'POST', headers: {
        'Content-Type': 'application/json', 'X-Rpcdemo-Token': TOKEN, 'X-Rpcdemo-Console': '1'},
        body: JSON.stringify(body), credentials: 'same-origin'});
      const answer = await r.json().catch(() => ({ok: false, error: 'HTTP ' + r.status}));
      document.body.dataset.lastAction = action + ' ' + target + ' ' + (answer.ok ? 'ok' : 'error');
      if (answer.ok) toast(action + ' ' + target + ': ' + summary(answer.result));
      else toast(action + ' ' + target + ': ' + answer.error, true);
      return answer;
    } catch (e) {
      toast(action + ' ' + target + ': ' + e, true);
      return {ok: false, error: String(e)};
    } finally { delete document.body.dataset.acting; }
  }
  function summary(result) {
    if (result === null || result === undefined) return 'done';
    if (typeof result === 'string') return result;
    if (result.message) return result.message;
    return JSON.stringify(result).slice(0, 160);
  }
  const DANGER = {'kill': 1, 'kill-respawn': 1, 'partition': 1, 'cancel': 1, 'cancel-flow': 1,
                  'reject': 1, 'scale-down': 1};
  // One button per action the core offers the row (observe/actions.py: the terminal's keys
  // read the same table); ``value(action)`` gives the value typed beside the row (null: none),
  // which an action that asks for one needs (scale…, resolve…) and run takes as its argument.
  function buttons(parent, actions, target, value) {
    (actions || []).forEach(a => {
      const b = h('button', {'data-action': a.name, 'data-target': target, title: a.help}, parent,
        a.label);
      if (DANGER[a.name]) b.className = 'danger';
      b.addEventListener('click', () => {
        const v = value(a);
        if (v === false) return;
        act(a.name, target, v === null ? {} : {value: v});
      });
    });
  }
  // ---- nodes ---------------------------------------------------------------------------
  function leaseLeft(task) {
    if (task.lease_left_s === null || task.lease_left_s === undefined) return null;
    return Math.max(0, task.lease_left_s - (Date.now() - doc.at_ms) / 1000);
  }
  // Rebuild only what changed: an element stays while its key (what it shows, as JSON) is
  // the same, so a button under the pointer is not replaced between press and release.
  function keyed(box, items, idOf, keyOf, build) {
    const old = {};
    Array.from(box.children).forEach(e => { if (e.dataset.kid) old[e.dataset.kid] = e; });
    let prev = null;
    items.forEach(item => {
      const id = idOf(item), key = keyOf(item);
      let e = old[id];
      delete old[id];
      if (!e || e.dataset.key !== key) {
        const fresh = build(item);
        fresh.dataset.kid = id; fresh.dataset.key = key;
        if (e) box.replaceChild(fresh, e);
        e = fresh;
      }
      const want = prev ? prev.nextSibling : box.firstChild;
      if (want !== e) box.insertBefore(e, want);
      prev = e;
    });
    Object.values(old).forEach(e => e.remove());
  }
  function nodeRow(n, links) {
    const tr = h('tr', {'data-node': n.name, 'data-state': n.state, 'data-pid': n.pid || ''});
    h('td', {}, tr, n.name);
    const st = h('td', {}, tr); h('span', {class: 'state ' + n.state}, st, n.state);
    h('td', {class: 'n'}, tr, n.pid || '-');
    h('td', {class: 'n'}, tr, n.restarts);
    const tasks = h('td', {class: 'tasks'}, tr);
    n.tasks.forEach(t => {
      const line = h('div', {'data-task': t.id}, tasks, t.id + ' ');
      h('span', {class: 'lease'}, line);
    });
    if (!n.tasks.length) tasks.textContent = '-';
    h('td', {}, tr, links ? (n.link || '-') : '');
    h('td', {class: 'n muted usage'}, tr);
    buttons(h('td', {class: 'row-actions'}, tr), n.actions, n.name, () => null);
    return tr;
  }
  function drawNodes() {
    const body = $('nodes').querySelector('tbody');
    const links = doc.links !== null;
    keyed(body, doc.nodes, n => n.name,
      n => JSON.stringify([n.state, n.pid, n.restarts, n.link, links, n.actions,
                           n.tasks.map(t => t.id)]),
      n => nodeRow(n, links));
    // what changes every poll is updated in place
    doc.nodes.forEach(n => {
      const tr = body.querySelector(`tr[data-kid="${CSS.escape(n.name)}"]`);
      tr.querySelector('td.usage').textContent = (n.cpu || '') + ' ' + (n.mem || '');
      tr.querySelectorAll('div[data-task]').forEach((line, i) => {
        const t = n.tasks[i], span = line.querySelector('span.lease');
        span.dataset.lease = t.lease_left_s === null ? '' : t.lease_left_s;
      });
    });
    tickLeases();
    keyed($('scale'), doc.groups.filter(g => g.actions.length), g => g.group,
      g => JSON.stringify(g), g => {
        const span = h('span', {class: 'row-actions', 'data-group': g.group}, null,
          g.group + ' ×' + g.count + ' ');
        const input = h('input', {class: 'num', 'aria-label': g.group + ' nodes'}, null);
        input.value = scaleValues[g.group] === undefined ? g.count : scaleValues[g.group];
        input.addEventListener('input', () => { scaleValues[g.group] = input.value; });
        buttons(span, g.actions, g.group, () => input.value);
        span.appendChild(input);
        return span;
      });
  }
  function tickLeases() {
    if (!doc) return;
    document.querySelectorAll('span.lease').forEach(e => {
      const left = e.dataset.lease === '' || e.dataset.lease === undefined ? null
        : leaseLeft({lease_left_s: Number(e.dataset.lease)});
      e.textContent = left === null ? '' : left.toFixed(1) + 's';
    });
  }

  // ---- call graphs ---------------------------------------------------------------------
  function layout(promises) {
    const byId = {}, depth = {}, rows = {};
    promises.forEach(p => { byId[p.id] = p; });
    function d(p, seen) {
      if (depth[p.id] !== undefined) return depth[p.id];
      const parent = p.parent && byId[p.parent] && !seen[p.parent] ? byId[p.parent] : null;
      seen[p.id] = true;
      return (depth[p.id] = parent ? d(parent, seen) + 1 : 0);
    }
    promises.forEach(p => d(p, {}));
    const pos = {};
    promises.forEach(p => {
      const k = depth[p.id];
      rows[k] = (rows[k] || 0) + 1;
      pos[p.id] = {col: k, row: rows[k] - 1};
    });
    return {pos: pos, cols: Math.max(0, ...Object.values(depth)) + 1,
            rows: Math.max(1, ...Object.values(rows))};
  }
  function label(p) {
    const f = p.func || '(promise)';
    return f.length > 18 ? f.slice(0, 17) + '…' : f;
  }
  function drawFlow(flow) {
    const BW = 150, BH = 38, GX = 30, GY = 10;
    const box = h('div', {class: 'flow', 'data-root': flow.root});
    const root = flow.promises[0];
    const title = h('h3', {}, box, flow.root + (root ? ' · ' + root.state : '') + ' ');
    buttons(title, flow.actions, flow.root, () => $('run-arg').value);
    const L = layout(flow.promises);
    const svg = s('svg', {width: L.cols * (BW + GX), height: L.rows * (BH + GY) + 4,
                          class: 'dag'}, box);
    const at = p => L.pos[p.id];
    flow.promises.forEach(p => {
      if (!p.parent || !L.pos[p.parent]) return;
      const a = at({id: p.parent}), b = at(p);
      const x1 = a.col * (BW + GX) + BW, y1 = a.row * (BH + GY) + BH / 2 + 2;
      const x2 = b.col * (BW + GX), y2 = b.row * (BH + GY) + BH / 2 + 2;
      s('path', {class: 'edge', d: `M${x1},${y1} C${x1 + GX / 2},${y1} ${x2 - GX / 2},${y2} ${x2},${y2}`}, svg);
    });
    flow.promises.forEach(p => {
      const q = at(p);
      const g = s('g', {class: 'promise ' + p.state + (p.flag ? ' stuck' : '') +
                  (selected === p.id ? ' selected' : ''), 'data-promise-id': p.id,
                  'data-state': p.state, 'data-holder': p.holder || '',
                  'data-value': p.value === null || p.value === undefined ? '' : JSON.stringify(p.value),
                  transform: `translate(${q.col * (BW + GX)},${q.row * (BH + GY) + 2})`}, svg);
      s('rect', {width: BW, height: BH}, g);
      s('text', {x: 6, y: 15}, g, label(p) + (p.args ? '(' + JSON.stringify(p.args).slice(1, -1).slice(0, 12) + ')' : ''));
      const second = p.state === 'pending' ? (p.holder ? 'pending · held by ' + p.holder : 'pending')
        : p.state + (p.value !== null && p.value !== undefined ? ' = ' + JSON.stringify(p.value).slice(0, 14) : '');
      s('text', {x: 6, y: 30}, g, second);
      s('title', {}, g, p.id + '\n' + p.state + (p.holder ? '\nholder ' + p.holder : '') +
        (p.flag ? '\n' + p.flag : ''));
      g.addEventListener('click', () => { selected = p.id; drawFlows(); drawPromisePanel(); });
    });
    return box;
  }
  function drawFlows() {
    keyed($('flows'), doc.flows, f => f.root,
      f => JSON.stringify(f) + (f.promises.some(p => p.id === selected) ? selected : ''),
      drawFlow);
    $('flows-empty').hidden = doc.flows.length > 0;
  }
  function findPromise(id) {
    for (const f of (doc ? doc.flows : [])) for (const p of f.promises) if (p.id === id) return p;
    return null;
  }
  function drawPromisePanel() {
    const panel = $('promise-panel');
    const p = selected && findPromise(selected);
    panel.className = p ? 'show' : '';
    if (!p) return;
    $('promise-id').textContent = p.id + ' · ' + p.state + (p.holder ? ' · held by ' + p.holder : '');
    panel.dataset.promise = p.id;
    const box = $('promise-actions');
    const key = JSON.stringify([p.id, p.state, p.actions]);
    if (box.dataset.key === key) return;
    box.dataset.key = key;
    box.textContent = '';
    buttons(box, p.actions, p.id, () => promiseValue());
    if (!p.actions.length) h('span', {class: 'muted'}, box, ' settled: nothing to do');
  }
  function promiseValue() {
    const raw = $('promise-value').value.trim();
    return raw === '' ? null : raw;
  }

  // ---- events, links, faults -----------------------------------------------------------
  function drawRunBar() {
    keyed($('run-buttons'), doc.runnable, f => f.name, f => JSON.stringify(f), f => {
      const span = h('span', {'data-flow': f.name}, null, f.name + ' ');
      buttons(span, f.actions, f.root, () => $('run-arg').value);
      return span;
    });
  }
  function drawSide() {
    // the model keeps the latest few lines; the page keeps what it has seen since it opened
    doc.events.forEach(line => {
      if (!seenEvents.has(line)) { seenEvents.add(line); events.push(line); }
    });
    while (events.length > MAX_EVENTS) seenEvents.delete(events.shift());
    const pre = $('events');
    const atEnd = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
    pre.textContent = events.join('\n') || 'no events yet';
    if (atEnd) pre.scrollTop = pre.scrollHeight;
    const links = $('links');
    links.textContent = '';
    if (doc.links === null) { links.textContent = 'the topology runs without links (started with --no-links)'; }
    else {
      const t = h('table', {}, links);
      doc.links.forEach(l => {
        const tr = h('tr', {'data-link': l.node, 'data-state': l.state}, t);
        h('td', {}, tr, l.node); h('td', {}, tr, l.state);
        h('td', {class: 'n'}, tr, l.delay_ms ? l.delay_ms + ' ms' : '');
        h('td', {class: 'n'}, tr, l.connections + ' conn');
      });
    }
    const faults = $('faults');
    faults.textContent = doc.faults.length ? '' : 'none';
    doc.faults.forEach(f => h('div', {}, faults, `${f.kind} ${f.node} (holder ${f.holder})`));
    const c = doc.counts || {};
    $('counts').textContent = Object.keys(c).map(k => k + ' ' + c[k]).join(' · ');
    $('notice').textContent = doc.notice || '';
    $('where').textContent = `server ${doc.server_url || '?'} · gateway ${doc.gateway_url || '(none)'} · home ${doc.home}`;
  }

  // ---- chaos timeline (the report's drawing model, view/chaos_timeline.py) ----------------
  function drawChaos(chaos) {
    const box = $('chaos');
    box.textContent = '';
    $('chaos-section').hidden = !chaos;
    if (!chaos) return;
    const m = chaos.model;
    const head = h('p', {}, box);
    const verdict = chaos.verdict || (chaos.state === 'done' ? 'unknown' : 'running');
    h('span', {class: 'verdict ' + verdict, id: 'verdict', 'data-verdict': verdict}, head,
      verdict.toUpperCase());
    h('span', {}, head, `  run ${chaos.run_tag} · ${chaos.ops_total} operations · ${chaos.faults} faults`);
    (chaos.reasons || []).forEach(r => h('div', {class: 'notice'}, box, r));
    // the report's own drawing (view/chaos_html_page.py), again at each update
    const drawn = rpcdemoDrawTimeline(m, {tl: h('div', {}, box), lat: h('div', {}, box),
                                          width: Math.max(700, box.clientWidth - 10)});
    document.body.dataset.chaosBars = drawn.bars;
    document.body.dataset.chaosBands = drawn.bands;
    document.body.dataset.chaosVerdict = verdict;
  }

  // ---- the stream ----------------------------------------------------------------------
  function render() {
    const started = performance.now();
    drawNodes(); drawRunBar(); drawFlows(); drawPromisePanel(); drawSide();
    const d = document.body.dataset;
    d.nodes = doc.nodes.length;
    d.flows = doc.flows.length;
    d.promises = document.querySelectorAll('g.promise').length;
    d.updates = Number(d.updates || 0) + 1;
    // milliseconds since the navigation started (the benchmark reads them)
    if (!firstDrawn && doc.nodes.length) {
      firstDrawn = true;
      d.firstDrawnMs = Math.round(performance.now());
      d.firstFlows = doc.flows.length;
    }
    d.drawnMs = Math.round(performance.now());
    d.renderMs = (performance.now() - started).toFixed(1);
  }
  function connect() {
    const es = new EventSource('/events?token=' + encodeURIComponent(TOKEN));
    const d = document.body.dataset;
    d.connectMs = Math.round(performance.now());
    es.addEventListener('state', e => {
      if (!d.firstStateMs) d.firstStateMs = Math.round(performance.now());
      doc = JSON.parse(e.data); render();
    });
    es.addEventListener('chaos', e => drawChaos(JSON.parse(e.data)));
    es.addEventListener('gone', () => {
      $('banner').className = 'show';
      $('banner').textContent = 'the topology stopped: this page no longer updates';
      document.body.dataset.gone = '1';
      es.close();
    });
    es.onopen = () => { d.connected = '1'; d.openMs = Math.round(performance.now()); };
  }

  function setup() {
    setInterval(tickLeases, 200);
    // the document as the page was served: the first frame without waiting for the stream
    const initial = JSON.parse($('initial-state').textContent || 'null');
    if (initial) { doc = initial; render(); }
    connect();
  }
  setup();
})();
