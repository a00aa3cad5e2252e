/**
 * Test helper: the Prometheus text exposition of live nodes (GET /metrics), parsed into metric families
 * (`# TYPE` lines: declared even before a labelled metric has its first sample) and samples (name and
 * labels), merged over several nodes, and the question whether a name used in a query is exported.
 */
export interface Exposition {
  /** Family name -> type (counter, gauge, histogram, summary, untyped). */
  families: Map<string, string>;
  /** Sample name (e.g. tessera_commit_latency_seconds_bucket) -> label sets seen. */
  samples: Map<string, Array<Record<string, string>>>;
}

export function emptyExposition(): Exposition {
  return { families: new Map(), samples: new Map() };
}

/** Adds one /metrics text to `into` (several nodes: each adds its text). */
export function addExposition(into: Exposition, text: string): Exposition {
  for (const line of text.split('\n')) {
    const type = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (type) {
      into.families.set(type[1] as string, type[2] as string);
      continue;
    }
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([A-Za-z_:][A-Za-z0-9_:]*)(?:\{(.*)\})?\s+\S+/.exec(line);
    if (!m) throw new Error(`not an exposition line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([A-Za-z_]\w*)="((?:[^"\\]|\\.)*)"/g))
      labels[l[1] as string] = l[2] as string;
    const list = into.samples.get(m[1] as string) ?? [];
    list.push(labels);
    into.samples.set(m[1] as string, list);
  }
  return into;
}

const HISTOGRAM_SUFFIXES = ['_bucket', '_sum', '_count'];

/** Whether a query may name `name`: a sample seen, or a declared family (with its histogram series). */
export function isExported(e: Exposition, name: string): boolean {
  if (e.samples.has(name) || e.families.has(name)) return true;
  for (const suffix of HISTOGRAM_SUFFIXES) {
    if (!name.endsWith(suffix)) continue;
    const type = e.families.get(name.slice(0, -suffix.length));
    if (type === 'histogram' || (type === 'summary' && suffix !== '_bucket')) return true;
  }
  return false;
}

/** Label names the samples of `name` carry (empty when it has no sample yet). */
export function labelNamesOf(e: Exposition, name: string): Set<string> {
  const out = new Set<string>();
  for (const labels of e.samples.get(name) ?? []) for (const l of Object.keys(labels)) out.add(l);
  return out;
}
