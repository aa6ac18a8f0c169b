// Health: liveness, readiness checks, what serves the data, and latency
// from the server's own Prometheus metrics (/metrics), sampled while the
// page is open.

import { get } from './api.js';
import { fill, h, table } from './dom.js';

const SVG = 'http://www.w3.org/2000/svg';
const SAMPLE_MS = 5000;
const SAMPLES = 60;

function s(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  for (const c of children) el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return el;
}

/** Prometheus text format to `[{name, labels, value}]`. */
export function parseMetrics(text) {
  const out = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (!m) continue;
    const labels = {};
    for (const l of (m[2] || '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]] = l[2];
    out.push({ name: m[1], labels, value: Number(m[3]) });
  }
  return out;
}

/** Per route: request count, and p50/p95 estimated from the histogram's
 * buckets (the upper bound of the bucket the quantile falls in). */
function latencyByRoute(metrics) {
  const routes = new Map();
  for (const m of metrics) {
    if (m.name !== 'engram_http_request_duration_seconds_bucket') continue;
    const key = `${m.labels.method} ${m.labels.route}`;
    if (!routes.has(key)) routes.set(key, []);
    routes.get(key).push([m.labels.le === '+Inf' ? Infinity : Number(m.labels.le), m.value]);
  }
  const quantile = (buckets, q) => {
    const total = buckets[buckets.length - 1][1];
    const hit = buckets.find(([, n]) => n >= q * total);
    return hit ? hit[0] : Infinity;
  };
  return [...routes.entries()]
    .map(([route, buckets]) => {
      buckets.sort((a, b) => a[0] - b[0]);
      return { route, count: buckets[buckets.length - 1][1], p50: quantile(buckets, 0.5), p95: quantile(buckets, 0.95) };
    })
    .filter((r) => r.count > 0 && !r.route.includes(' /ui'))
    .sort((a, b) => b.count - a.count);
}

function ms(seconds) {
  if (!Number.isFinite(seconds)) return '> 10 s';
  return seconds < 0.001 ? `${(seconds * 1000).toFixed(1)} ms` : `${Math.round(seconds * 1000)} ms`;
}

/** Horizontal bars of p50 and p95 per route, on a log scale (latencies
 * span 0.5 ms to seconds). */
function routeChart(rows, width) {
  const top = rows.slice(0, 10);
  const barH = 14;
  const rowH = 40;
  const left = 0;
  const min = Math.log10(0.0005);
  const max = Math.log10(10);
  const x = (sec) => ((Math.log10(Math.min(Math.max(sec, 0.0005), 10)) - min) / (max - min)) * (width - left);
  const svg = s('svg', {
    viewBox: `0 0 ${width} ${top.length * rowH + 24}`,
    width,
    height: top.length * rowH + 24,
    role: 'img',
    'aria-labelledby': 'latency-title',
    class: 'chart',
    preserveAspectRatio: 'xMinYMin meet',
  });
  svg.append(s('title', { id: 'latency-title' }, 'Latency per route: p50 and p95 from the server histogram'));
  top.forEach((r, i) => {
    const y = i * rowH;
    svg.append(
      s('text', { x: 0, y: y + 11, class: 'chart-label' }, `${r.route} (${r.count})`),
      s('rect', { x: left, y: y + 15, width: Math.max(2, x(r.p95)), height: barH, class: 'bar-p95' }),
      s('rect', { x: left, y: y + 15, width: Math.max(2, x(r.p50)), height: barH, class: 'bar-p50' }),
      s('text', { x: Math.min(x(r.p95) + 4, width - 160), y: y + 26, class: 'chart-value' }, `p50 ≤ ${ms(r.p50)} · p95 ≤ ${ms(r.p95)}`),
    );
  });
  const axisY = top.length * rowH + 14;
  for (const t of [0.001, 0.01, 0.1, 1]) {
    svg.append(s('text', { x: x(t), y: axisY, class: 'chart-axis' }, ms(t)));
  }
  return svg;
}

/** Mean request latency per sampling interval, oldest to newest. */
function lineChart(points, width) {
  const height = 120;
  const svg = s('svg', { viewBox: `0 0 ${width} ${height + 20}`, width, height: height + 20, role: 'img', 'aria-labelledby': 'live-title', class: 'chart' });
  svg.append(s('title', { id: 'live-title' }, `Mean request latency every ${SAMPLE_MS / 1000} s while this page is open`));
  const peak = Math.max(0.001, ...points.map((p) => p.mean));
  svg.append(s('line', { x1: 0, y1: height, x2: width, y2: height, class: 'chart-grid' }));
  svg.append(s('text', { x: 0, y: 12, class: 'chart-axis' }, ms(peak)));
  if (points.length > 1) {
    // Spread over at least ten slots, so two samples are not a wall.
    const step = width / (Math.max(points.length, 10) - 1);
    const d = points
      .map((p, i) => `${i ? 'L' : 'M'}${(i * step).toFixed(1)},${(height - (p.mean / peak) * (height - 16)).toFixed(1)}`)
      .join(' ');
    svg.append(s('path', { d, class: 'chart-line' }));
  }
  svg.append(s('text', { x: 0, y: height + 16, class: 'chart-axis' }, points.length > 1 ? `${points.length} samples` : 'collecting…'));
  return svg;
}

function totals(metrics) {
  let sum = 0;
  let count = 0;
  for (const m of metrics) {
    if (m.labels.route?.startsWith('/ui')) continue;
    if (m.name === 'engram_http_request_duration_seconds_sum') sum += m.value;
    if (m.name === 'engram_http_request_duration_seconds_count') count += m.value;
  }
  return { sum, count };
}

export async function render(main, ctx) {
  const [health, ready, me, text] = await Promise.all([
    get('/health'),
    get('/ready', { ok: [503] }),
    Promise.resolve(ctx.me),
    get('/metrics'),
  ]);
  const metrics = parseMetrics(text);
  const stored = metrics.find((m) => m.name === 'engram_memories_stored');
  const live = h('div', { id: 'live-chart' });
  const routes = latencyByRoute(metrics);
  // Drawn at the width they are shown at, so their text stays legible on
  // a phone instead of being scaled down.
  const width = Math.round(Math.min(640, Math.max(300, main.clientWidth - 8)));
  fill(
    main,
    h('h1', {}, 'Health'),
    h(
      'ul',
      { class: 'stats' },
      h('li', {}, h('strong', { id: 'ready-status', class: ready.status === 'ready' ? 'ok' : 'bad' }, ready.status), ' readiness'),
      h('li', {}, h('strong', {}, health.version), ' version'),
      h('li', {}, h('strong', {}, me.server.store), ' store'),
      h('li', {}, h('strong', {}, stored ? String(stored.value) : '—'), ' memories stored (all tenants)'),
    ),
    h('h2', {}, 'Readiness checks'),
    table(
      'Readiness checks',
      ['Component', 'State'],
      Object.entries(ready.checks).map(([k, v]) => [k, h('span', { class: v === 'ok' ? 'ok' : 'bad' }, v)]),
    ),
    h('h2', {}, 'Embedding model'),
    h('p', {}, `${me.server.embedding_model}, ${me.server.embedding_dimension} dimensions`),
    h('h2', {}, 'Latency per route'),
    h(
      'p',
      { class: 'legend', 'aria-hidden': 'true' },
      h('span', {}, h('span', { class: 'swatch p50' }), 'p50'),
      h('span', {}, h('span', { class: 'swatch p95' }), 'p95'),
      h('span', {}, 'upper bounds of the histogram buckets; log scale; requests in brackets'),
    ),
    routes.length ? routeChart(routes, width) : h('p', { class: 'empty' }, 'No requests recorded yet.'),
    h('h2', {}, 'Live latency'),
    live,
    h('p', { class: 'hint' }, 'From GET /metrics (engram_http_request_duration_seconds), excluding the console\'s own files.'),
  );
  // Sampled while the page is open; the router stops it on leaving.
  const points = [];
  let prev = totals(metrics);
  fill(live, lineChart(points, width));
  const timer = setInterval(async () => {
    try {
      const now = totals(parseMetrics(await get('/metrics')));
      const n = now.count - prev.count;
      points.push({ mean: n > 0 ? (now.sum - prev.sum) / n : 0 });
      if (points.length > SAMPLES) points.shift();
      prev = now;
      fill(live, lineChart(points, width));
    } catch {
      // A missed sample leaves a gap; the next one resumes.
    }
  }, SAMPLE_MS);
  return () => clearInterval(timer);
}
