/**
 * report.html: a self-contained page (no network, inline SVG only) in the spirit of Jepsen's plots:
 *  - latency of every operation over time (log scale), coloured by outcome, shaped by function;
 *  - throughput over time (completions per second, one line per outcome);
 *  - nemesis intervals shaded on both, with their descriptions;
 *  - the checkers' verdicts and the run's options.
 * Points are capped at `pointsMax` (evenly sampled) so the page stays small.
 */
import { pairOperations, type HistoryEvent } from '../history';
import type { NemesisEvent } from '../nemesis/nemesis-log';
import type { CheckerVerdict } from './verdicts';

const pointsMax = 40_000;
const W = 1100;
const H = 360;
const M = { l: 64, r: 16, t: 16, b: 36 };
const colours: Record<string, string> = { ok: '#2a9d3f', fail: '#d62728', info: '#e6a100' };

export interface ReportInput {
  title: string;
  events: readonly HistoryEvent[];
  nemesis: readonly NemesisEvent[];
  verdicts: readonly CheckerVerdict[];
  options: unknown;
  summary: string;
  /** Failing sub-histories to show (the first few), from the linearizability checker. */
  anomalies?: readonly { key: string; explanation: string; subhistory: readonly HistoryEvent[] }[];
}

const anomaliesShownMax = 5;

function anomalySection(list: ReportInput['anomalies']): string {
  if (!list || list.length === 0) return '';
  const shown = list.slice(0, anomaliesShownMax);
  const body = shown
    .map(
      (a) =>
        `<h3>key ${esc(a.key)}</h3><p>${esc(a.explanation)}</p><pre>${esc(a.subhistory.map((e) => JSON.stringify(e)).join('\n'))}</pre>`,
    )
    .join('');
  return `<h2>Anomalies (${list.length}${list.length > shown.length ? `, first ${shown.length} shown` : ''})</h2>${body}`;
}

export interface NemesisInterval {
  startS: number;
  endS: number;
  label: string;
}

const esc = (s: string): string =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const sec = (ns: number): number => ns / 1e9;

/** Pairs start/stop nemesis events into intervals (instant ones get a short interval). */
export function nemesisIntervals(events: readonly NemesisEvent[], endS: number): NemesisInterval[] {
  const out: NemesisInterval[] = [];
  let open: NemesisEvent | null = null;
  for (const e of events) {
    if (e.type === 'start') {
      if (open) out.push({ startS: sec(open.time), endS: sec(e.time), label: open.description });
      open = e;
    } else if ((e.type === 'stop' || e.type === 'heal') && open) {
      out.push({ startS: sec(open.time), endS: sec(e.time), label: open.description });
      open = null;
    } else if (e.type === 'instant') {
      out.push({ startS: sec(e.time), endS: sec(e.time) + 0.2, label: e.description });
    }
  }
  if (open) out.push({ startS: sec(open.time), endS, label: open.description });
  return out;
}

interface Point {
  t: number;
  latencyMs: number;
  outcome: 'ok' | 'fail' | 'info';
  f: string;
  process: number;
  key: string;
}

function points(events: readonly HistoryEvent[]): Point[] {
  const out: Point[] = [];
  for (const op of pairOperations(events)) {
    if (op.outcome === 'pending' || op.invokeTime === undefined || op.completeTime === undefined) continue;
    out.push({
      t: sec(op.invokeTime),
      latencyMs: Math.max((op.completeTime - op.invokeTime) / 1e6, 0.01),
      outcome: op.outcome,
      f: op.f,
      process: op.process,
      key: op.key,
    });
  }
  return out;
}

/** Shaded nemesis intervals; labels are staggered over three rows and cut to the room they have
 * (the full text is in each band's tooltip and in the nemesis table). */
function shadeRects(iv: readonly NemesisInterval[], x: (s: number) => number, h: number): string {
  const rowEnds = [0, 0, 0];
  return iv
    .map((i) => {
      const x0 = x(i.startS);
      const rect = `<rect x="${x0.toFixed(1)}" y="${M.t}" width="${Math.max(1, x(i.endS) - x0).toFixed(1)}" height="${h - M.t - M.b}" fill="#999" fill-opacity="0.18"><title>${esc(i.label)} (${i.startS.toFixed(1)}s - ${i.endS.toFixed(1)}s)</title></rect>`;
      const row = rowEnds.findIndex((end) => end <= x0);
      if (row < 0) return rect;
      const label = i.label.slice(0, 24);
      rowEnds[row] = x0 + label.length * 5 + 6;
      return `${rect}<text x="${(x0 + 2).toFixed(1)}" y="${M.t + 10 + row * 10}" font-size="9" fill="#555">${esc(label)}</text>`;
    })
    .join('');
}

function xAxis(x: (s: number) => number, maxS: number, h: number): string {
  const step = maxS > 300 ? 60 : maxS > 120 ? 20 : maxS > 40 ? 10 : 5;
  let s = '';
  for (let t = 0; t <= maxS; t += step) {
    s += `<line x1="${x(t)}" x2="${x(t)}" y1="${h - M.b}" y2="${h - M.b + 4}" stroke="#333"/><text x="${x(t)}" y="${h - M.b + 16}" font-size="10" text-anchor="middle">${t}</text>`;
  }
  return s + `<text x="${(W + M.l) / 2}" y="${h - 4}" font-size="11" text-anchor="middle">time (s)</text>`;
}

function latencySvg(pts: readonly Point[], iv: readonly NemesisInterval[], maxS: number): string {
  const maxLat = pts.reduce((m, p) => Math.max(m, p.latencyMs), 10);
  const minLat = 0.1;
  const x = (s: number): number => M.l + (s / maxS) * (W - M.l - M.r);
  const y = (ms: number): number =>
    H -
    M.b -
    ((Math.log10(Math.max(ms, minLat)) - Math.log10(minLat)) / (Math.log10(maxLat) - Math.log10(minLat))) *
      (H - M.t - M.b);
  const stride = Math.max(1, Math.ceil(pts.length / pointsMax));
  let dots = '';
  for (let i = 0; i < pts.length; i += stride) {
    const p = pts[i]!;
    const cx = x(p.t).toFixed(1);
    const cy = y(p.latencyMs).toFixed(1);
    const c = colours[p.outcome];
    const shape =
      p.f === 'get' || p.f === 'read'
        ? `<circle cx="${cx}" cy="${cy}" r="1.8" fill="${c}"`
        : `<rect x="${(Number(cx) - 1.8).toFixed(1)}" y="${(Number(cy) - 1.8).toFixed(1)}" width="3.6" height="3.6" fill="${c}"`;
    dots += `${shape}><title>${esc(`${p.f} ${p.key} p${p.process} ${p.outcome} ${p.latencyMs.toFixed(1)} ms at ${p.t.toFixed(2)} s`)}</title>${shape.startsWith('<circle') ? '</circle>' : '</rect>'}`;
  }
  let yTicks = '';
  for (let e = Math.ceil(Math.log10(minLat)); e <= Math.log10(maxLat); e++) {
    const v = 10 ** e;
    yTicks += `<line x1="${M.l - 4}" x2="${W - M.r}" y1="${y(v)}" y2="${y(v)}" stroke="#eee"/><text x="${M.l - 6}" y="${y(v) + 3}" font-size="10" text-anchor="end">${v >= 1 ? v : v.toFixed(1)}</text>`;
  }
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif">${yTicks}${shadeRects(iv, x, H)}${dots}${xAxis(x, maxS, H)}<text transform="rotate(-90)" x="${-(H / 2)}" y="14" font-size="11" text-anchor="middle">latency (ms, log)</text><rect x="${M.l}" y="${M.t}" width="${W - M.l - M.r}" height="${H - M.t - M.b}" fill="none" stroke="#333"/></svg>`;
}

function rateSvg(pts: readonly Point[], iv: readonly NemesisInterval[], maxS: number): string {
  const h = 260;
  const buckets = Math.max(1, Math.ceil(maxS));
  const series: Record<string, number[]> = {
    ok: new Array(buckets).fill(0),
    fail: new Array(buckets).fill(0),
    info: new Array(buckets).fill(0),
  };
  for (const p of pts) {
    const b = Math.min(buckets - 1, Math.floor(p.t + p.latencyMs / 1000));
    series[p.outcome]![b]!++;
  }
  const maxRate = Object.values(series)
    .flat()
    .reduce((m, v) => Math.max(m, v), 1);
  const x = (s: number): number => M.l + (s / maxS) * (W - M.l - M.r);
  const y = (r: number): number => h - M.b - (r / maxRate) * (h - M.t - M.b);
  let lines = '';
  for (const [outcome, vals] of Object.entries(series)) {
    const d = vals.map((v, i) => `${i === 0 ? 'M' : 'L'}${x(i + 0.5).toFixed(1)},${y(v).toFixed(1)}`).join(' ');
    lines += `<path d="${d}" fill="none" stroke="${colours[outcome]}" stroke-width="1.5"><title>${outcome}</title></path>`;
  }
  let yTicks = '';
  const step = Math.max(1, Math.ceil(maxRate / 5 / 10) * 10);
  for (let r = 0; r <= maxRate; r += step) {
    yTicks += `<line x1="${M.l - 4}" x2="${W - M.r}" y1="${y(r)}" y2="${y(r)}" stroke="#eee"/><text x="${M.l - 6}" y="${y(r) + 3}" font-size="10" text-anchor="end">${r}</text>`;
  }
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${h}" font-family="sans-serif">${yTicks}${shadeRects(iv, x, h)}${lines}${xAxis(x, maxS, h)}<text transform="rotate(-90)" x="${-(h / 2)}" y="14" font-size="11" text-anchor="middle">completions / s</text><rect x="${M.l}" y="${M.t}" width="${W - M.l - M.r}" height="${h - M.t - M.b}" fill="none" stroke="#333"/></svg>`;
}

export function renderReport(input: ReportInput): string {
  const pts = points(input.events);
  const lastNs = [...input.events.map((e) => e.time ?? 0), ...input.nemesis.map((e) => e.time)].reduce(
    (m, t) => Math.max(m, t),
    0,
  );
  const maxS = Math.max(1, sec(lastNs));
  const iv = nemesisIntervals(input.nemesis, maxS);
  const legend = Object.entries(colours)
    .map(([k, c]) => `<span style="color:${c}">&#9632; ${k}</span>`)
    .join(' &nbsp; ');
  const verdictRows = input.verdicts
    .map(
      (v) =>
        `<tr><td>${esc(v.name)}</td><td class="${v.valid === true ? 'pass' : v.valid === false ? 'bad' : 'unk'}">${esc(String(v.valid))}</td><td>${esc(v.summary)}</td></tr>`,
    )
    .join('');
  const nemesisRows = input.nemesis
    .map(
      (e) =>
        `<tr><td>${sec(e.time).toFixed(2)}</td><td>${esc(e.type)}</td><td>${esc(e.kind)}</td><td>${esc(e.description)}${e.nodes ? ` nodes ${esc(e.nodes.join(','))}` : ''}${e.error ? ` <span class="bad">${esc(e.error)}</span>` : ''}</td></tr>`,
    )
    .join('');
  return `<!doctype html>
<html><head><meta charset="utf-8"><title>${esc(input.title)}</title>
<style>body{font-family:sans-serif;margin:20px;color:#222}table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ccc;padding:3px 8px;text-align:left}
.pass{color:#2a9d3f;font-weight:bold}.bad{color:#d62728;font-weight:bold}.unk{color:#e6a100;font-weight:bold}pre{background:#f6f6f6;padding:8px;font-size:12px;overflow:auto}</style>
</head><body>
<h1>${esc(input.title)}</h1>
<p>${esc(input.summary)}</p>
<h2>Verdicts</h2><table><tr><th>checker</th><th>valid</th><th>summary</th></tr>${verdictRows}</table>
${anomalySection(input.anomalies)}
<h2>Latency</h2><p>${legend} &nbsp; (circles: reads, squares: writes; grey: nemesis active; ${pts.length} operations)</p>
${latencySvg(pts, iv, maxS)}
<h2>Throughput</h2>
${rateSvg(pts, iv, maxS)}
<h2>Nemesis</h2><table><tr><th>t (s)</th><th>type</th><th>kind</th><th>what</th></tr>${nemesisRows}</table>
<h2>Options</h2><pre>${esc(JSON.stringify(input.options, null, 2))}</pre>
</body></html>
`;
}
