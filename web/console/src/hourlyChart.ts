import uPlot from 'uplot';
import type { HourSummary } from './api.js';
import { fill } from './context.js';
import { h, uid } from './dom.js';
import type { Messages } from './messages.js';

/*
 * The sign-in chart, drawn by uPlot (MIT, about 22 KB gzipped, loaded only with the
 * Sign-in logs page): the smallest well-kept time-series library we found, and fast
 * enough for a month of hours. Its canvas is not readable by a screen reader, so the
 * chart is an image whose name is its title and whose description states the totals
 * and the worst hour; the same numbers are in a table and in the tiles beside it.
 * uPlot styles through the CSSOM (element.style), which the console's CSP allows.
 */

const COLORS = { codesSent: '#0058a3', signIns: '#0b6a0b', failures: '#a4262c' } as const;
type Series = keyof typeof COLORS;
const SERIES: Series[] = ['codesSent', 'signIns', 'failures'];

export function hourlyChart(series: HourSummary[], t: Messages, lang: string, title: string): HTMLElement {
  const totals = Object.fromEntries(SERIES.map((name) => [name, series.reduce((sum, entry) => sum + entry[name], 0)])) as Record<Series, number>;
  const worst = series.reduce<HourSummary | undefined>((best, entry) => (entry.failures > (best?.failures ?? 0) ? entry : best), undefined);
  const hourFormat = new Intl.DateTimeFormat(lang, { weekday: 'short', hour: '2-digit', minute: '2-digit' });
  const description = fill(t.chart.description, { signIns: totals.signIns, failures: totals.failures, codesSent: totals.codesSent })
    + (worst ? ` ${fill(t.chart.worst, { hour: hourFormat.format(new Date(worst.hour)), failures: worst.failures })}` : '');

  const descriptionId = uid('chart-desc');
  const plotArea = h('div', { class: 'chart-plot', 'aria-hidden': 'true' });
  const chart = h('div', { class: 'chart', role: 'img', 'aria-label': title, 'aria-describedby': descriptionId },
    plotArea, h('p', { id: descriptionId, class: 'chart-desc visually-hidden' }, description));

  const short = series.length <= 48;
  const axisFormat = new Intl.DateTimeFormat(lang, short ? { hour: '2-digit', minute: '2-digit' } : { weekday: 'short', day: 'numeric' });
  const data: uPlot.AlignedData = [series.map((entry) => Date.parse(entry.hour) / 1000), ...SERIES.map((name) => series.map((entry) => entry[name]))];
  const plot = new uPlot(
    {
      width: 960,
      height: 240,
      legend: { show: false },
      cursor: { drag: { x: false, y: false } },
      scales: { y: { range: (_u, _min, max) => [0, Math.max(1, max)] } },
      axes: [
        { values: (_u, ticks) => ticks.map((seconds) => axisFormat.format(new Date(seconds * 1000))), space: short ? 60 : 70 },
        { values: (_u, ticks) => ticks.map((value) => (Number.isInteger(value) ? String(value) : '')) },
      ],
      series: [{}, ...SERIES.map((name) => ({ label: t.chart[name], stroke: COLORS[name], width: 2, ...(name === 'codesSent' ? { dash: [5, 3] } : {}) }))],
    },
    data,
    plotArea,
  );
  // As wide as the page gives it: measured once it is laid out, and again when the window changes.
  new ResizeObserver(() => {
    const width = Math.floor(plotArea.clientWidth);
    if (width > 0 && width !== plot.width) plot.setSize({ width, height: 240 });
  }).observe(plotArea);
  return chart;
}
