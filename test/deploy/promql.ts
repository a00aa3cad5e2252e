/**
 * Test helper: the metric names, label matchers and grouping labels a PromQL expression uses, and the
 * expressions of the monitoring files (Grafana dashboard panels and variables, Prometheus alerting
 * rules). A small lexer, not a full parser: string literals, label matchers, ranges and grouping clauses
 * are cut out, and every identifier left that is not a function call or a keyword is a metric name. So a
 * misspelled metric name is reported (as an unknown metric), never silently skipped. The syntax itself is
 * checked by the real Prometheus (test/deploy/prometheus-scrape.test.ts) and promtool.
 */
import { asArray, asRecord, loadYaml, repoText } from './deploy-files';

const KEYWORDS = new Set(['and', 'or', 'unless', 'bool', 'offset', 'atan2', 'inf', 'nan', 'Inf', 'NaN']);
const GROUPING = /\b(by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)/g;
const IDENT = /(?<![\w.$])[A-Za-z_:][A-Za-z0-9_:]*/g;

/** Grafana's variables, replaced by what Grafana would put there. */
export function expandGrafanaVariables(expr: string): string {
  return expr.replace(/\$__rate_interval|\$__interval|\$__range/g, '5s').replace(/\$\{?([A-Za-z_]\w*)\}?/g, '.*');
}

/** Metric names the expression reads. */
export function metricNames(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '""')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(GROUPING, ' ')
    .replace(/\boffset\s+\S+/g, ' ');
  const names = new Set<string>();
  for (const m of stripped.matchAll(IDENT)) {
    const after = stripped.slice((m.index ?? 0) + m[0].length).trimStart();
    if (after.startsWith('(') || KEYWORDS.has(m[0])) continue;
    names.add(m[0]);
  }
  return [...names];
}

export interface LabelMatcher {
  metric: string;
  label: string;
  op: string;
  value: string;
}

/** `metric{label="value", ...}` matchers of the expression. */
export function labelMatchers(expr: string): LabelMatcher[] {
  const out: LabelMatcher[] = [];
  for (const m of expr.matchAll(/([A-Za-z_:][A-Za-z0-9_:]*)\s*\{([^}]*)\}/g)) {
    for (const l of (m[2] as string).matchAll(/([A-Za-z_]\w*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"/g)) {
      out.push({ metric: m[1] as string, label: l[1] as string, op: l[2] as string, value: l[3] as string });
    }
  }
  return out;
}

/** Label names in `by (...)`, `without (...)`, `on (...)`, ... clauses. */
export function groupingLabels(expr: string): string[] {
  const out = new Set<string>();
  for (const m of expr.matchAll(GROUPING))
    for (const l of (m[2] as string).split(',').map((s) => s.trim())) if (l !== '') out.add(l);
  return [...out];
}

export interface NamedQuery {
  /** Where it comes from, for messages: "dashboard panel 'Fsync p99' A", "alert TesseraNodeDown". */
  where: string;
  /** PromQL (Grafana variables left in). */
  expr: string;
}

export const DASHBOARD_PATH = 'deploy/grafana/dashboards/tessera.json';
export const ALERTS_PATH = 'deploy/prometheus/alerts.yml';

export function loadDashboard(): Record<string, unknown> {
  return asRecord(JSON.parse(repoText(DASHBOARD_PATH)), DASHBOARD_PATH);
}

/** Every panel target's expression, and every query variable: label_values(SEL, L) as count by (L) (SEL). */
export function dashboardQueries(dashboard = loadDashboard()): NamedQuery[] {
  const out: NamedQuery[] = [];
  for (const p of asArray(dashboard.panels, 'panels')) {
    const panel = asRecord(p, 'panel');
    if (panel.type === 'row') continue;
    for (const t of asArray(panel.targets, `panel ${String(panel.title)} targets`)) {
      const target = asRecord(t, 'target');
      out.push({
        where: `dashboard panel '${String(panel.title)}' ${String(target.refId)}`,
        expr: String(target.expr),
      });
    }
  }
  for (const v of asArray(asRecord(dashboard.templating, 'templating').list, 'templating.list')) {
    const variable = asRecord(v, 'variable');
    const query = asRecord(variable.query, `variable ${String(variable.name)} query`);
    const m = /^label_values\((.*),\s*(\w+)\)$/.exec(String(query.query));
    if (!m) throw new Error(`variable ${String(variable.name)}: expected label_values(SELECTOR, LABEL)`);
    out.push({ where: `dashboard variable ${String(variable.name)}`, expr: `count by (${m[2]}) (${m[1]})` });
  }
  return out;
}

export function alertQueries(): NamedQuery[] {
  const out: NamedQuery[] = [];
  for (const g of asArray(loadYaml(ALERTS_PATH).groups, 'groups'))
    for (const r of asArray(asRecord(g, 'group').rules, 'rules')) {
      const rule = asRecord(r, 'rule');
      out.push({ where: `alert ${String(rule.alert ?? rule.record)}`, expr: String(rule.expr) });
    }
  return out;
}
