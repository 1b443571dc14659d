import { SIGN_IN_OUTCOMES } from '../../../../lib/signin/outcomes.js';
import type { SignInLogEntry, SignInLogPage } from '../api.js';
import { hourlySeries } from '../chart.js';
import { fill, type ConsoleContext } from '../context.js';
import { field, h, options, replace, uid } from '../dom.js';
import { alertBox, errorText, Pager, table, UserError } from '../ui.js';

const WEEK_HOURS = 168;

/** Outcomes a sign-in log row can hold, exactly (lib/signin/outcomes.ts). */
const outcomeLabel = (t: ConsoleContext['t'], outcome: string) => (t.outcomes as Record<string, string | undefined>)[outcome] ?? outcome;
const RANGES = { hour: 1, day: 24, week: 168, month: 720 } as const;

/** Sign-in logs: the last week per hour at a glance, then the entries with filters. */
export async function signInLogsPage(c: ConsoleContext): Promise<HTMLElement> {
  const { t } = c;
  const alert = alertBox();
  const results = h('div', { class: 'results' });
  const guest = h('input', { type: 'email', name: 'guest', autocomplete: 'off', spellcheck: 'false' });
  const outcome = h('select', { name: 'outcome' }, ...options([['', t.all], ...SIGN_IN_OUTCOMES.map((o): [string, string] => [o, outcomeLabel(t, o)])]));
  const range = h('select', { name: 'range' }, ...options([['', t.logs.anyTime], ...(Object.keys(RANGES) as (keyof typeof RANGES)[]).map((r): [string, string] => [r, t.logs.ranges[r]])], 'week'));
  const filters = h('form', { class: 'filters', role: 'search', 'aria-label': t.logs.filters },
    field(t.logs.guest, guest, t.logs.guestHint), field(t.logs.outcome, outcome), field(t.logs.range, range), h('button', { type: 'submit' }, t.apply));
  const filter: { userId?: string; outcome?: string; since?: string } = {};
  const emails = new Map<string, string>();

  const pager = new Pager<SignInLogPage>(t, (link) => c.api.signInLogs(c.tenantId, { ...filter, $top: 50 }, link), (page) => replace(results, logTable(page.value)));

  function logTable(entries: SignInLogEntry[]): HTMLElement {
    return table(t.logs.caption, [
      { label: t.logs.time, cell: (e) => c.date(e.createdDateTime) },
      { label: t.logs.guest, cell: (e) => e.userPrincipalName ?? (e.userId ? emails.get(e.userId) ?? e.userId : h('span', { class: 'muted' }, t.logs.unknownGuest)) },
      { label: t.logs.event, cell: (e) => e.event },
      { label: t.logs.outcome, cell: (e) => h('span', { class: e.outcome === 'signed_in' || e.outcome === 'code_sent' ? 'outcome ok' : 'outcome failed' }, outcomeLabel(t, e.outcome)) },
      { label: t.logs.clientIp, cell: (e) => e.clientIp },
      // A code mail's fate follows its send-code: queued, then sent or refused or dropped, then the provider's reports.
      { label: t.logs.mail, cell: (e) => (e.delivery ? h('span', { title: e.delivery.reason ?? '' }, t.mailFates[e.delivery.status] ?? e.delivery.status) : '') },
    ], entries, t.logs.none);
  }

  filters.addEventListener('submit', async (event) => {
    event.preventDefault();
    alert.textContent = '';
    try {
      const address = guest.value.trim().toLowerCase();
      filter.userId = undefined;
      if (address) {
        const found = (await c.api.guests(c.tenantId, { search: address })).value.find((g) => g.email.toLowerCase() === address);
        if (!found) throw new UserError(fill(t.logs.noSuchGuest, { email: address }));
        filter.userId = found.id;
        emails.set(found.id, found.email);
      }
      filter.outcome = outcome.value || undefined;
      const hours = RANGES[range.value as keyof typeof RANGES];
      filter.since = hours ? new Date(Date.now() - hours * 3_600_000).toISOString() : undefined;
      await pager.reset();
      c.announce(t.logs.filtered);
    } catch (error) {
      alert.textContent = errorText(t, error);
    }
  });

  // The chart, the guests' addresses and the first page of entries load side by side.
  // Guest ids read as addresses for the first page of guests; the rest stay ids.
  const addresses = c.api.guests(c.tenantId, {}).then(
    (page) => page.value.forEach((g) => emails.set(g.id, g.email)),
    () => undefined, // the ids are shown instead
  );
  filter.since = new Date(Date.now() - WEEK_HOURS * 3_600_000).toISOString();
  const [chart] = await Promise.all([chartSection(c), addresses.then(() => pager.reset())]);
  return h('div', { class: 'stack' }, chart, h('section', { class: 'card', 'aria-label': t.logs.entries }, filters, alert, results, pager.element));
}

const CHART_RANGES = { day: 24, week: 168, month: 720 } as const;
type ChartRange = keyof typeof CHART_RANGES;

/**
 * The chart section: a period picker (24 hours, 7 days, 30 days), tiles with the
 * period's totals, the hourly chart and its numbers; changing the period redraws them.
 */
async function chartSection(c: ConsoleContext): Promise<HTMLElement> {
  const { t } = c;
  const id = uid('chart');
  const heading = h('h2', { id }, t.logs.ranges.week);
  const picker = h('select', { name: 'period' }, ...options((Object.keys(CHART_RANGES) as ChartRange[]).map((r): [string, string] => [r, t.logs.ranges[r]]), 'week'));
  const body = h('div', {});
  // uPlot loads with this page only (its own chunk).
  const { hourlyChart } = await import('../hourlyChart.js');
  const draw = async (range: ChartRange) => {
    const hours = CHART_RANGES[range];
    const series = hourlySeries((await c.api.signInSummary(c.tenantId, hours)).value, hours);
    const refused = (entry: (typeof series)[number]) => Object.values(entry.refusals).reduce((sum, count) => sum + count, 0);
    const total = (pick: (entry: (typeof series)[number]) => number) => series.reduce((sum, entry) => sum + pick(entry), 0);
    const busy = series.filter((entry) => entry.signIns + entry.failures + entry.codesSent + refused(entry) > 0);
    const hourFormat = new Intl.DateTimeFormat(c.lang, { dateStyle: 'medium', timeStyle: 'short' });
    heading.textContent = t.logs.ranges[range];
    const tile = (label: string, value: number, name: string) => h('li', { class: `tile ${name}` }, h('span', { class: 'tile-value' }, String(value)), h('span', { class: 'tile-label' }, label));
    replace(body,
      h('ul', { class: 'tiles', 'aria-label': t.chart.tiles },
        tile(t.chart.signIns, total((e) => e.signIns), 'signIns'),
        tile(t.chart.failures, total((e) => e.failures), 'failures'),
        tile(t.chart.codesSent, total((e) => e.codesSent), 'codesSent'),
        tile(t.chart.stepUps, total((e) => e.stepUps), 'stepUps'),
        tile(t.chart.mailsFailed, total((e) => e.mailsFailed), 'mailsFailed'),
        tile(t.chart.refusals, total(refused), 'refused')),
      h('figure', {}, hourlyChart(series, t, c.lang, t.chart.titles[range]),
        h('figcaption', { class: 'legend' },
          h('span', { class: 'key codesSent' }, t.chart.codesSent), h('span', { class: 'key signIns' }, t.chart.signIns), h('span', { class: 'key failures' }, t.chart.failures))),
      h('details', {}, h('summary', {}, t.chart.numbers),
        table(t.chart.tableCaption, [
          { label: t.chart.hour, cell: (e) => hourFormat.format(new Date(e.hour)) },
          { label: t.chart.codesSent, cell: (e) => e.codesSent, className: 'number' },
          { label: t.chart.signIns, cell: (e) => e.signIns, className: 'number' },
          { label: t.chart.failures, cell: (e) => e.failures, className: 'number' },
          // Refusals per reason (counted for the tenant, guests' and strangers' alike).
          { label: t.chart.refusals, cell: (e) => Object.entries(e.refusals).filter(([, n]) => n > 0).map(([reason, n]) => `${outcomeLabel(t, reason)}: ${n}`).join(', ') },
        ], busy, t.chart.quiet)));
  };
  picker.addEventListener('change', () => void draw(picker.value as ChartRange));
  await draw('week');
  return h('section', { class: 'card', 'aria-labelledby': id }, h('div', { class: 'chart-head' }, heading, field(t.chart.range, picker)), body);
}
