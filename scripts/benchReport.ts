import type { AbuseFigures } from './benchAbuse.js';

/*
 * What the benchmark measured, and how it is shown: the JSON shape written to
 * bench/results/, the Markdown table, and the latency chart (SVG).
 */

export interface LoadFigures {
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  /** Answers counted inside the measured windows. */
  requests: number;
  /** Non-2xx answers, socket errors and timeouts. */
  errors: number;
  /** CPU time of the server process per answer (µs): the cost that noise on a shared machine hardly moves. */
  cpuPerRequestUs: number;
  /** CPU time of Azurite per answer (µs): the storage side of the same request. */
  azuriteCpuPerRequestUs: number;
}

export interface SessionCheckComparison {
  connections: number;
  guestpass: LoadFigures;
  baseline: LoadFigures;
  /** guestpass ÷ baseline requests per round (runs side by side in time). */
  roundRatios: number[];
  /** guestpass ÷ baseline throughput: the median of the rounds' ratios. */
  throughputRatio: number;
  p50Ratio: number;
  p99Ratio: number;
  cpuRatio: number;
}

export interface StepFigures {
  p50Ms: number;
  p99Ms: number;
  errors: number;
  /** Mean Table Storage transactions per request of this step during the run. */
  meanTransactions: number;
  /** How many answers had each HTTP status. */
  statuses: Record<number, number>;
}

export interface SignInRun {
  guests: number;
  completed: number;
  durationMs: number;
  signInsPerSecond: number;
  requestsPerSecond: number;
  /** Latency of a whole sign-in (send-code + verify-code + session-check) per guest. */
  p50Ms: number;
  p99Ms: number;
  errors: number;
  sessionsCreated: number;
  /** CPU time of the guestpass host and of Azurite during the run, per sign-in (ms). */
  hostCpuMsPerSignIn: number;
  azuriteCpuMsPerSignIn: number;
  steps: Record<'sendCode' | 'verifyCode' | 'sessionCheck', StepFigures>;
}

/** How fast the send-mail trigger empties the mail queue. */
export interface MailDrain {
  mails: number;
  /** From the first message queued to the last mail the fake SendGrid took. */
  seconds: number;
  mailsPerSecond: number;
  /** Mails SendGrid took beyond one per queued message (the queue delivers at least once). */
  duplicates: number;
}

export interface EnumerationCheck {
  samples: number;
  mailDelayMs: number;
  invitedMedianMs: number;
  uninvitedMedianMs: number;
  invitedP90Ms: number;
  uninvitedP90Ms: number;
  /** not invited ÷ invited (medians): 1 means the answer time tells nothing. */
  ratio: number;
}

/** Transactions per request, one entry per probe (fresh guest), and their median. */
export interface TransactionCount {
  endpoint: string;
  samples: number[];
  median: number;
  status: number;
  /** Storage calls that lay one after another (the development host's round-trip header), most of any probe. */
  maxRoundTrips: number;
}

/** The timing target of no oracle (DESIGN §4): a benchmark's, never a timed test's. */
export const ORACLE_TIMING_CHECK = 'no oracle: largest median timing difference of any kind (ms)';

/** The endpoints whose storage calls must not wait on more than ROUND_TRIP_TARGET round trips (issue 19). */
const ROUND_TRIP_ENDPOINTS = ['send-code (invited)', 'send-code (not invited)', 'verify-code (wrong code)', 'verify-code (not invited, wrong code)', 'verify-code'];
const ROUND_TRIP_TARGET = 4;

export interface ImportTime {
  samples: number;
  /** What the entry did with the build's V8 code cache: "accepted", or "none" (scripts/appEntry.cjs). */
  codeCache: string;
  appMedianMs: number;
  nodeMedianMs: number;
  /** import of dist/index.js ÷ `node -e 0` (medians of whole process lifetimes). */
  ratio: number;
  /** The same package without its code cache, as a Node.js whose V8 is not the build's loads it. */
  uncached: { codeCache: string; appMedianMs: number; ratio: number };
}

export interface TargetCheck {
  name: string;
  value: number;
  target: string;
  holds: boolean;
}

export interface BenchResults {
  mode: 'full' | 'quick';
  startedAt: string;
  machine: { node: string; platform: string; cpus: number; cpuModel: string };
  plan: Record<string, number>;
  hostSettings: Record<string, string>;
  sessionCheck: SessionCheckComparison[];
  /** On the host as deployed (not development). */
  signIn: SignInRun;
  /** The same run on the development host, whose answers carry their transaction counts. */
  signInCounted: SignInRun;
  /** In steady state, before the burst of concurrent sign-ins. */
  enumeration: EnumerationCheck;
  /** Right after the burst: the recent mail latencies that mask uninvited addresses were taken under load. */
  enumerationAfterBurst: EnumerationCheck;
  /** Issue 20: mails queued at once, drained by the send-mail trigger. */
  mailDrain: MailDrain;
  transactions: TransactionCount[];
  transactionsPerSignIn: number;
  importTime: ImportTime;
  /** Issue 11: refused and anonymous calls, cleanup as tables grow, a real guest during a flood. */
  abuse: AbuseFigures;
  targets: TargetCheck[];
}

export function percentile(values: number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank]!;
}

export const median = (values: number[]): number => percentile(values, 50);

export function mean(values: number[]): number {
  return values.length === 0 ? Number.NaN : values.reduce((sum, v) => sum + v, 0) / values.length;
}

export function ratio(a: number, b: number): number {
  return b === 0 ? Number.NaN : a / b;
}

/** The endpoints whose transaction counts have targets, by the names the probes use. */
export const TRANSACTION_TARGETS: Record<string, { max: number; exact?: boolean }> = {
  // The guest partition (query and transaction), the expiry index, the queued mail and the tenant's daily
  // cap (its count written, the day's total read at most once per TENANT_CACHE_SECONDS); a caller that is not
  // the guest's own (the stranger) also takes the address's hour first (an insert and a count).
  'send-code (invited)': { max: 8 },
  'send-code (not invited)': { max: 8 },
  // The guest with its invitation link (the guest's own): the partition and the address's newest attempt (no
  // handle), the transaction, the expiry index; the probe's guest redeems here, so also the guest index's two
  // writes (its new state's rows before, its old state's out after).
  'verify-code': { max: 7 },
  'session-check': { max: 1, exact: true },
};

export function checkTargets(results: Omit<BenchResults, 'targets'>): TargetCheck[] {
  const at50 = results.sessionCheck.find((c) => c.connections === 50);
  const checks: TargetCheck[] = [];
  if (at50) {
    checks.push({ name: 'session-check throughput at 50 connections ÷ baseline', value: at50.throughputRatio, target: '≥ 0.85', holds: at50.throughputRatio >= 0.85 });
  }
  for (const count of results.transactions) {
    const target = TRANSACTION_TARGETS[count.endpoint];
    if (!target) continue;
    checks.push({
      name: `Table transactions: ${count.endpoint}`,
      value: count.median,
      target: target.exact ? `= ${target.max}` : `≤ ${target.max}`,
      holds: target.exact ? count.median === target.max : count.median <= target.max,
    });
  }
  for (const count of results.transactions.filter((c) => ROUND_TRIP_ENDPOINTS.includes(c.endpoint))) {
    checks.push({ name: `round trips on the critical path: ${count.endpoint}`, value: count.maxRoundTrips, target: `≤ ${ROUND_TRIP_TARGET}`, holds: count.maxRoundTrips <= ROUND_TRIP_TARGET });
  }
  checks.push({ name: 'Table transactions: complete sign-in', value: results.transactionsPerSignIn, target: '≤ 12', holds: results.transactionsPerSignIn <= 12 });
  for (const [run, where] of [[results.signIn, ''], [results.signInCounted, ' (development host)']] as const) {
    checks.push({ name: `${run.guests} concurrent sign-ins${where}: errors`, value: run.errors, target: '= 0', holds: run.errors === 0 });
    checks.push({
      name: `${run.guests} concurrent sign-ins${where}: sessions created`,
      value: run.sessionsCreated,
      target: `= ${run.guests}`,
      holds: run.sessionsCreated === run.guests,
    });
  }
  const a = results.abuse;
  checks.push({ name: 'refused call: Table transactions (most of any)', value: a.refused.maxTransactions, target: '≤ 1', holds: a.refused.maxTransactions <= 1 });
  checks.push({ name: 'admitted anonymous call: rows written', value: a.anonymous.rowsPerCall, target: '≤ 3', holds: a.anonymous.rowsPerCall <= 3 });
  const oracleGap = Math.max(...a.oracle.flatMap((o) => [Math.abs(o.sendMedianMs), Math.abs(o.verifyMedianMs)]));
  checks.push({ name: ORACLE_TIMING_CHECK, value: oracleGap, target: '≤ 2 ms', holds: oracleGap <= 2 });
  checks.push({ name: 'refused calls: rows written', value: a.refused.rowsWritten, target: '= 0', holds: a.refused.rowsWritten === 0 });
  const [small, large] = a.cleanup;
  if (small && large) {
    checks.push({
      name: `cleanup: transactions with ${large.stored} rows stored ÷ with ${small.stored}`,
      value: large.transactions / small.transactions,
      target: '= 1',
      holds: large.transactions === small.transactions,
    });
  }
  const [quietListing, floodedListing] = a.listing;
  if (quietListing && floodedListing) {
    checks.push({
      name: `guest listing: rows read with ${floodedListing.strangerRows} stranger rows ÷ with ${quietListing.strangerRows}`,
      value: floodedListing.rowsRead / quietListing.rowsRead,
      target: '= 1',
      holds: floodedListing.rowsRead === quietListing.rowsRead,
    });
  }
  checks.push({ name: 'real guest sign-in p50 during a lasting flood ÷ quiet', value: a.sustainedFlood.ratio, target: '≤ 2', holds: a.sustainedFlood.ratio <= 2 });
  return checks;
}

const f = (value: number, digits = 1): string => (Number.isFinite(value) ? value.toFixed(digits) : 'n/a');
const whole = (value: number): string => (Number.isFinite(value) ? String(Math.round(value)) : 'n/a');

/** The cold-start row: loading the package `func azure functionapp publish` and azd ship, against a bare Node.js start. */
export const IMPORT_ROW = "import of the published package (deploy/dist/index.js, with the build's V8 code cache) vs `node -e 0` (ms, process lifetime)";
/** The same, on a Node.js whose V8 is not the one that ran the build: the bundle compiled from source. */
export const IMPORT_UNCACHED_ROW = 'the same, compiled from source (no code cache for this V8) vs `node -e 0` (ms, process lifetime)';

/** The Markdown table: every figure, its reference in the same run, the ratio, and the target where there is one. */
export function renderTable(results: BenchResults): string {
  const targets = new Map(results.targets.map((t) => [t.name, t]));
  const holds = (name: string): [string, string] => {
    const t = targets.get(name);
    return t ? [t.target, t.holds ? 'yes' : '**no**'] : ['', ''];
  };
  const rows: string[][] = [];
  for (const c of results.sessionCheck) {
    const name = c.connections === 50 ? 'session-check throughput at 50 connections ÷ baseline' : '';
    const conn = `${c.connections} connection${c.connections === 1 ? '' : 's'}`;
    rows.push([`session-check, ${conn}: requests/s`, whole(c.guestpass.requestsPerSecond), whole(c.baseline.requestsPerSecond), f(c.throughputRatio, 2), ...holds(name)]);
    rows.push([
      `session-check, ${conn}: p50 / p99 latency (ms)`,
      `${f(c.guestpass.p50Ms, 2)} / ${f(c.guestpass.p99Ms, 2)}`,
      `${f(c.baseline.p50Ms, 2)} / ${f(c.baseline.p99Ms, 2)}`,
      `${f(c.p50Ratio, 2)} / ${f(c.p99Ratio, 2)}`,
      '',
      '',
    ]);
    rows.push([
      `session-check, ${conn}: server CPU per request (µs; Azurite's in brackets)`,
      `${whole(c.guestpass.cpuPerRequestUs)} (${whole(c.guestpass.azuriteCpuPerRequestUs)})`,
      `${whole(c.baseline.cpuPerRequestUs)} (${whole(c.baseline.azuriteCpuPerRequestUs)})`,
      f(c.cpuRatio, 2),
      '',
      '',
    ]);
  }
  const s = results.signIn;
  const g = `${s.guests} concurrent sign-ins`;
  rows.push([`${g}: complete sign-ins/s (requests/s)`, `${f(s.signInsPerSecond)} (${whole(s.requestsPerSecond)})`, '', '', '', '']);
  rows.push([`${g}: p50 / p99 of a whole sign-in (ms)`, `${whole(s.p50Ms)} / ${whole(s.p99Ms)}`, '', '', '', '']);
  rows.push([
    `${g}: p99 send-code / verify-code / session-check (ms)`,
    `${whole(s.steps.sendCode.p99Ms)} / ${whole(s.steps.verifyCode.p99Ms)} / ${whole(s.steps.sessionCheck.p99Ms)}`,
    '', '', '', '',
  ]);
  rows.push([`${g}: CPU per sign-in, guestpass host (Azurite) (ms)`, `${f(s.hostCpuMsPerSignIn, 2)} (${f(s.azuriteCpuMsPerSignIn, 2)})`, '', '', '', '']);
  rows.push([`${g}: errors`, String(s.errors), '', '', ...holds(`${g}: errors`)]);
  rows.push([`${g}: sessions created`, String(s.sessionsCreated), `${s.guests} guests`, '', ...holds(`${g}: sessions created`)]);
  const c = results.signInCounted;
  const gc = `${c.guests} concurrent sign-ins (development host)`;
  rows.push([
    `${gc}: mean transactions per send-code / verify-code / session-check`,
    `${f(c.steps.sendCode.meanTransactions, 2)} / ${f(c.steps.verifyCode.meanTransactions, 2)} / ${f(c.steps.sessionCheck.meanTransactions, 2)}`,
    '', '', '', '',
  ]);
  rows.push([`${gc}: errors`, String(c.errors), '', '', ...holds(`${gc}: errors`)]);
  rows.push([`${gc}: sessions created`, String(c.sessionsCreated), `${c.guests} guests`, '', ...holds(`${gc}: sessions created`)]);
  for (const [e, when, target] of [[results.enumeration, 'steady', '≈ 1'], [results.enumerationAfterBurst, `right after the ${s.guests} sign-ins`, '']] as const) {
    rows.push([
      `send-code median / p90 latency, not invited vs invited (ms; ${when}; mail takes ${e.mailDelayMs} ms)`,
      `${f(e.uninvitedMedianMs)} / ${f(e.uninvitedP90Ms)}`,
      `${f(e.invitedMedianMs)} / ${f(e.invitedP90Ms)}`,
      `${f(e.ratio, 2)} / ${f(ratio(e.uninvitedP90Ms, e.invitedP90Ms), 2)}`,
      target,
      target ? (e.ratio >= 0.8 && e.ratio <= 1.25 ? 'yes' : '**no**') : '',
    ]);
  }
  rows.push([
    `${g}: send-code p50 / p99 (ms; the mail queued, not sent: the provider takes ${results.enumeration.mailDelayMs} ms)`,
    `${whole(s.steps.sendCode.p50Ms)} / ${whole(s.steps.sendCode.p99Ms)}`,
    '', '', '', '',
  ]);
  const d = results.mailDrain;
  rows.push([
    `${d.mails} queued mails drained by the send-mail trigger: seconds, mails/s (duplicates)`,
    `${f(d.seconds, 1)} s, ${f(d.mailsPerSecond)} /s (${d.duplicates})`,
    '', '', '', '',
  ]);
  for (const t of results.transactions) {
    rows.push([`Table transactions: ${t.endpoint} (HTTP ${t.status})`, String(t.median), '', '', ...holds(`Table transactions: ${t.endpoint}`)]);
  }
  rows.push(['Table transactions: complete sign-in (send-code + verify-code + session-check)', String(results.transactionsPerSignIn), '', '', ...holds('Table transactions: complete sign-in')]);
  for (const t of results.transactions.filter((c) => ROUND_TRIP_ENDPOINTS.includes(c.endpoint))) {
    rows.push([`storage round trips on the critical path: ${t.endpoint} (most of any probe)`, String(t.maxRoundTrips), '', '', ...holds(`round trips on the critical path: ${t.endpoint}`)]);
  }
  const i = results.importTime;
  rows.push([IMPORT_ROW, f(i.appMedianMs), f(i.nodeMedianMs), f(i.ratio, 2), '≤ 3', i.ratio <= 3 ? 'yes' : '**no**']);
  rows.push([IMPORT_UNCACHED_ROW, f(i.uncached.appMedianMs), f(i.nodeMedianMs), f(i.uncached.ratio, 2), '≤ 3', i.uncached.ratio <= 3 ? 'yes' : '**no**']);

  const a = results.abuse;
  rows.push([
    `refused call (past the per-address limits, ${a.refused.calls} calls): Table transactions, most / mean`,
    `${a.refused.maxTransactions} / ${f(a.refused.meanTransactions, 2)}`, '', '', ...holds('refused call: Table transactions (most of any)'),
  ]);
  rows.push([`refused calls: rows written (${a.refused.calls} calls)`, String(a.refused.rowsWritten), '', '', ...holds('refused calls: rows written')]);
  rows.push([`admitted anonymous call (stranger send-code, wrong verify-code): rows written per call`, f(a.anonymous.rowsPerCall, 2), '', '', ...holds('admitted anonymous call: rows written')]);
  for (const o of a.oracle) {
    rows.push([`no oracle, ${o.kind} guest: send-code / wrong verify-code less a never-seen address's (median of ${o.tries}, ms)`, `${f(o.sendMedianMs, 2)} / ${f(o.verifyMedianMs, 2)}`, '', '', '', '']);
  }
  rows.push([ORACLE_TIMING_CHECK, f(targets.get(ORACLE_TIMING_CHECK)?.value ?? Number.NaN, 2), '', '', ...holds(ORACLE_TIMING_CHECK)]);
  const [small] = a.cleanup;
  for (const c of a.cleanup) {
    const name = c === small ? '' : `cleanup: transactions with ${c.stored} rows stored ÷ with ${small!.stored}`;
    rows.push([
      `cleanup, ${c.stored} rows stored, ${c.expired} expired: transactions (per expired row)`,
      `${c.transactions} (${f(c.perExpiredRow, 2)})`,
      c === small ? '' : `${small!.transactions} with ${small!.stored} stored`,
      c === small ? '' : f(c.transactions / small!.transactions, 2),
      ...(name ? holds(name) : ['', '']),
    ]);
  }
  const [quietListing] = a.listing;
  for (const l of a.listing) {
    const name = l === quietListing ? '' : `guest listing: rows read with ${l.strangerRows} stranger rows ÷ with ${quietListing!.strangerRows}`;
    rows.push([
      `guest listing filtered by state (${l.matching} of ${l.guests} guests) with ${l.strangerRows} stranger rows in the tenant's range: Table rows read (transactions)`,
      `${l.rowsRead} (${l.transactions})`,
      l === quietListing ? '' : `${quietListing!.rowsRead} with ${quietListing!.strangerRows}`,
      l === quietListing ? '' : f(l.rowsRead / quietListing!.rowsRead, 2),
      ...(name ? holds(name) : ['', '']),
    ]);
  }
  for (const [phase, figures, target] of [
    ['a flood the tenant ceilings still admit', a.flood, ''],
    ['a lasting flood, past the tenant ceilings', a.sustainedFlood, 'real guest sign-in p50 during a lasting flood ÷ quiet'],
  ] as const) {
    rows.push([
      `real guest sign-in p50 during ${phase} (${whole(figures.floodCallsPerSecond)} calls/s from many addresses, ${whole(figures.refusedShare * 100)}% refused or asked for a step-up) vs quiet (ms)`,
      f(figures.floodP50Ms), f(figures.quietP50Ms), f(figures.ratio, 2), ...(target ? holds(target) : ['', '']),
    ]);
    rows.push([`${phase}: CPU per flood call, guestpass host (Azurite) (µs)`, `${whole(figures.hostCpuUsPerFloodCall)} (${whole(figures.azuriteCpuUsPerFloodCall)})`, '', '', '', '']);
  }

  const header = ['measurement', 'guestpass', 'reference (same run)', 'ratio', 'target', 'holds'];
  const line = (cells: string[]) => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

const escapeXml = (text: string): string => text.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);

/** Latency (p50 solid, p99 dashed) against connections, guestpass and the baseline, on a log x axis. */
export function renderLatencyChart(comparisons: SessionCheckComparison[], title: string): string {
  const width = 720;
  const height = 440;
  const margin = { left: 70, right: 190, top: 50, bottom: 60 };
  const plotW = width - margin.left - margin.right;
  const plotH = height - margin.top - margin.bottom;
  const connections = comparisons.map((c) => c.connections);
  const logMin = Math.log10(Math.min(...connections));
  const logMax = Math.log10(Math.max(...connections));
  const x = (n: number) => margin.left + ((Math.log10(n) - logMin) / (logMax - logMin || 1)) * plotW;
  const highest = Math.max(1, ...comparisons.flatMap((c) => [c.guestpass.p99Ms, c.baseline.p99Ms]).filter(Number.isFinite));
  const step = niceStep(highest / 5);
  const top = Math.ceil(highest / step) * step;
  const y = (ms: number) => margin.top + plotH - (ms / top) * plotH;

  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`);
  parts.push(`<rect width="${width}" height="${height}" fill="#ffffff"/>`);
  parts.push(`<text x="${width / 2 - margin.right / 2 + margin.left / 2}" y="28" text-anchor="middle" font-size="15" font-weight="bold">${escapeXml(title)}</text>`);
  for (let ms = 0; ms <= top + 1e-9; ms += step) {
    parts.push(`<line x1="${margin.left}" x2="${margin.left + plotW}" y1="${y(ms)}" y2="${y(ms)}" stroke="#e3e3e3"/>`);
    parts.push(`<text x="${margin.left - 8}" y="${y(ms) + 4}" text-anchor="end">${+ms.toFixed(3)}</text>`);
  }
  for (const n of connections) {
    parts.push(`<line x1="${x(n)}" x2="${x(n)}" y1="${margin.top}" y2="${margin.top + plotH}" stroke="#f0f0f0"/>`);
    parts.push(`<text x="${x(n)}" y="${margin.top + plotH + 18}" text-anchor="middle">${n}</text>`);
  }
  parts.push(`<line x1="${margin.left}" x2="${margin.left}" y1="${margin.top}" y2="${margin.top + plotH}" stroke="#333"/>`);
  parts.push(`<line x1="${margin.left}" x2="${margin.left + plotW}" y1="${margin.top + plotH}" y2="${margin.top + plotH}" stroke="#333"/>`);
  parts.push(`<text x="${margin.left + plotW / 2}" y="${height - 18}" text-anchor="middle">concurrent connections (log scale)</text>`);
  parts.push(`<text transform="translate(20 ${margin.top + plotH / 2}) rotate(-90)" text-anchor="middle">latency (ms)</text>`);

  const series = [
    { label: 'guestpass p50', color: '#1f6fd1', dash: '', pick: (c: SessionCheckComparison) => c.guestpass.p50Ms },
    { label: 'guestpass p99', color: '#1f6fd1', dash: '6 4', pick: (c: SessionCheckComparison) => c.guestpass.p99Ms },
    { label: 'baseline p50', color: '#d9822b', dash: '', pick: (c: SessionCheckComparison) => c.baseline.p50Ms },
    { label: 'baseline p99', color: '#d9822b', dash: '6 4', pick: (c: SessionCheckComparison) => c.baseline.p99Ms },
  ];
  series.forEach((s, index) => {
    const points = comparisons.map((c) => `${x(c.connections).toFixed(1)},${y(s.pick(c)).toFixed(1)}`).join(' ');
    const dash = s.dash ? ` stroke-dasharray="${s.dash}"` : '';
    parts.push(`<polyline fill="none" stroke="${s.color}" stroke-width="2"${dash} points="${points}"/>`);
    for (const c of comparisons) parts.push(`<circle cx="${x(c.connections).toFixed(1)}" cy="${y(s.pick(c)).toFixed(1)}" r="3" fill="${s.color}"/>`);
    const ly = margin.top + 10 + index * 22;
    const lx = margin.left + plotW + 20;
    parts.push(`<line x1="${lx}" x2="${lx + 30}" y1="${ly}" y2="${ly}" stroke="${s.color}" stroke-width="2"${dash}/>`);
    parts.push(`<text x="${lx + 38}" y="${ly + 4}">${escapeXml(s.label)}</text>`);
  });
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}

function niceStep(raw: number): number {
  const power = 10 ** Math.floor(Math.log10(raw));
  const scaled = raw / power;
  return (scaled <= 1 ? 1 : scaled <= 2 ? 2 : scaled <= 5 ? 5 : 10) * power;
}
