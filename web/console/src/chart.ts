import type { HourSummary } from './api.js';
import { fill } from './context.js';
import type { Messages } from './messages.js';

const SVG = 'http://www.w3.org/2000/svg';
const HOUR = 3_600_000;

function svg<K extends keyof SVGElementTagNameMap>(tag: K, attributes: Record<string, string | number>, ...children: (SVGElement | string)[]): SVGElementTagNameMap[K] {
  const element = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, String(value));
  for (const child of children) element.append(child);
  return element;
}

/** Every hour of the window, oldest first, zero where the server reported nothing. */
export function hourlySeries(summary: HourSummary[], hours: number, now = Date.now()): HourSummary[] {
  const byHour = new Map(summary.map((entry) => [Date.parse(entry.hour), entry]));
  const last = Math.floor(now / HOUR) * HOUR;
  return Array.from({ length: hours }, (_, index) => {
    const at = last - (hours - 1 - index) * HOUR;
    const found = byHour.get(at);
    return {
      hour: new Date(at).toISOString(),
      signIns: found?.signIns ?? 0,
      failures: found?.failures ?? 0,
      codesSent: found?.codesSent ?? 0,
      refusals: found?.refusals ?? { domain_blocked: 0, otp_disabled: 0, guest_disabled: 0 },
    };
  });
}

type Series = 'signIns' | 'failures' | 'codesSent';
const SERIES: Series[] = ['codesSent', 'signIns', 'failures'];

/**
 * Sign-ins, failures and codes sent per hour as an SVG line chart, drawn here rather
 * than by a library (no inline styles for the CSP, a few hundred bytes of code). It is
 * an image with a text alternative that states the totals and the worst hour; the same
 * numbers are in a table for those who want to read them.
 */
export function hourlyChart(series: HourSummary[], t: Messages, lang: string, title = t.chart.title): SVGSVGElement {
  const width = 960;
  const height = 240;
  const pad = { left: 44, right: 12, top: 12, bottom: 36 };
  const plotWidth = width - pad.left - pad.right;
  const plotHeight = height - pad.top - pad.bottom;
  const peak = Math.max(1, ...series.flatMap((entry) => SERIES.map((name) => entry[name])));
  const step = niceStep(peak);
  const top = Math.ceil(peak / step) * step;
  const x = (index: number) => pad.left + (series.length <= 1 ? 0 : (index / (series.length - 1)) * plotWidth);
  const y = (value: number) => pad.top + plotHeight - (value / top) * plotHeight;

  const totals = Object.fromEntries(SERIES.map((name) => [name, series.reduce((sum, entry) => sum + entry[name], 0)])) as Record<Series, number>;
  const worst = series.reduce((best, entry) => (entry.failures > best.failures ? entry : best), series[0] ?? { hour: '', failures: 0, signIns: 0, codesSent: 0, refusals: { domain_blocked: 0, otp_disabled: 0, guest_disabled: 0 } });
  const hourFormat = new Intl.DateTimeFormat(lang, { weekday: 'short', hour: '2-digit', minute: '2-digit' });
  const description = fill(t.chart.description, { signIns: totals.signIns, failures: totals.failures, codesSent: totals.codesSent })
    + (worst.failures > 0 ? ` ${fill(t.chart.worst, { hour: hourFormat.format(new Date(worst.hour)), failures: worst.failures })}` : '');

  const chart = svg('svg', { viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-labelledby': 'chart-title chart-desc', class: 'chart' },
    svg('title', { id: 'chart-title' }, title),
    svg('desc', { id: 'chart-desc' }, description));
  for (let value = 0; value <= top; value += step) {
    chart.append(svg('line', { x1: pad.left, x2: width - pad.right, y1: y(value), y2: y(value), class: 'grid' }));
    chart.append(svg('text', { x: pad.left - 6, y: y(value) + 4, class: 'axis', 'text-anchor': 'end' }, String(value)));
  }
  const dayFormat = new Intl.DateTimeFormat(lang, { weekday: 'short', day: 'numeric' });
  const timeFormat = new Intl.DateTimeFormat(lang, { hour: '2-digit', minute: '2-digit' });
  // Labels that fit: every 6 hours over a day or two, every midnight over a week, every 5th midnight over a month.
  const short = series.length <= 48;
  const everyNthDay = series.length > 24 * 10 ? 5 : 1;
  let midnights = 0;
  series.forEach((entry, index) => {
    const at = new Date(entry.hour);
    if (short ? at.getHours() % 6 !== 0 : at.getHours() !== 0) return;
    if (!short && midnights++ % everyNthDay !== 0) return;
    chart.append(svg('line', { x1: x(index), x2: x(index), y1: pad.top, y2: pad.top + plotHeight, class: 'day' }));
    chart.append(svg('text', { x: x(index) + 4, y: height - pad.bottom + 18, class: 'axis' }, (short ? timeFormat : dayFormat).format(at)));
  });
  for (const name of SERIES) {
    const points = series.map((entry, index) => `${x(index).toFixed(1)},${y(entry[name]).toFixed(1)}`).join(' ');
    chart.append(svg('polyline', { points, class: `line ${name}` }));
  }
  return chart;
}

function niceStep(peak: number): number {
  const rough = peak / 4;
  const power = 10 ** Math.floor(Math.log10(Math.max(rough, 1)));
  const step = [1, 2, 5, 10].map((m) => m * power).find((candidate) => candidate >= rough) ?? 10 * power;
  return Math.max(1, step);
}
