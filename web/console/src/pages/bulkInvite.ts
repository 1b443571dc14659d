import {
  BulkInviteCsvError, bulkInviteTemplateCsv, parseBulkInviteCsv, writeBulkInviteResultsCsv,
  type BulkInviteResult, type BulkInviteRow,
} from '../../../../lib/admin/bulkInviteCsv.js';
import { fill, type ConsoleContext } from '../context.js';
import { download, field, h, replace, uid } from '../dom.js';
import { alertBox, errorText } from '../ui.js';

/** Invitations in flight at once: enough to be quick, few enough to stay under the per-client limits. */
const CONCURRENCY = 4;

type RowState = 'Waiting' | 'Running' | BulkInviteResult['status'];

/**
 * Bulk invite from Entra's CSV template, read with the same parser as the CLI
 * (lib/admin/bulkInviteCsv.ts): rows the parser refuses fail at once with its reason;
 * the others are invited a few at a time, each row's result shown as it arrives.
 */
export async function bulkInvitePage(c: ConsoleContext): Promise<HTMLElement> {
  const { t } = c;
  const file = h('input', { type: 'file', name: 'csv', accept: '.csv,text/csv' });
  const alert = alertBox();
  const progress = h('p', { class: 'progress', role: 'status', 'aria-live': 'polite' });
  const results = h('div', { class: 'results' });
  const start = h('button', { type: 'submit', disabled: true }, t.bulk.start);
  const downloadButton = h('button', { type: 'button', class: 'secondary', disabled: true }, t.bulk.download);
  const headingId = uid('upload');
  let parsed: { rows: BulkInviteRow[]; results: BulkInviteResult[] } | undefined;
  const states = new Map<number, { state: HTMLElement; detail: HTMLElement }>();

  function show(row: number, email: string, state: RowState, detail: string) {
    let cells = states.get(row);
    if (!cells) {
      cells = { state: h('td', {}), detail: h('td', {}) };
      states.set(row, cells);
      results.querySelector('tbody')!.append(h('tr', {}, h('td', {}, String(row)), h('td', {}, email), cells.state, cells.detail));
    }
    cells.state.className = `state-${state.toLowerCase()}`;
    cells.state.textContent = t.bulk.states[state];
    cells.detail.textContent = detail;
  }

  file.addEventListener('change', async () => {
    alert.textContent = '';
    progress.textContent = '';
    start.disabled = true;
    downloadButton.disabled = true;
    parsed = undefined;
    states.clear();
    replace(results);
    const chosen = file.files?.[0];
    if (!chosen) return;
    try {
      const { rows, errors } = parseBulkInviteCsv(await chosen.text());
      parsed = { rows, results: errors.map((error) => ({ row: error.row, email: error.email, status: 'Failed', error: error.error })) };
    } catch (error) {
      alert.textContent = error instanceof BulkInviteCsvError ? `${t.bulk.unreadable} ${error.message}` : errorText(t, error);
      return;
    }
    replace(results, h('div', { class: 'table-wrap' }, h('table', {},
      h('caption', {}, fill(t.bulk.caption, { file: chosen.name })),
      h('thead', {}, h('tr', {}, ...[t.bulk.row, t.guests.email, t.bulk.status, t.bulk.detail].map((label) => h('th', { scope: 'col' }, label)))),
      h('tbody', {}))));
    const all = [...parsed.rows.map((row) => ({ row: row.row, email: row.email })), ...parsed.results].sort((a, b) => a.row - b.row);
    for (const { row, email } of all) {
      const failed = parsed.results.find((result) => result.row === row);
      show(row, email, failed ? 'Failed' : 'Waiting', failed?.error ?? '');
    }
    progress.textContent = fill(t.bulk.parsed, { valid: parsed.rows.length, invalid: parsed.results.length });
    start.disabled = parsed.rows.length === 0;
    downloadButton.disabled = parsed.rows.length > 0;
  });

  async function inviteRow(row: BulkInviteRow): Promise<BulkInviteResult> {
    show(row.row, row.email, 'Running', '');
    try {
      const invitation = await c.api.invite(c.tenantId, {
        invitedUserEmailAddress: row.email,
        inviteRedirectUrl: row.redirectUrl,
        sendInvitationMessage: row.sendEmail,
        ...(row.displayName ? { invitedUserDisplayName: row.displayName } : {}),
        ...(row.message ? { invitedUserMessageInfo: { customizedMessageBody: row.message } } : {}),
      });
      show(row.row, row.email, 'Succeeded', invitation.invitedUser.id);
      return { row: row.row, email: row.email, status: 'Succeeded', invitedUserId: invitation.invitedUser.id };
    } catch (error) {
      const message = errorText(t, error);
      show(row.row, row.email, 'Failed', message);
      return { row: row.row, email: row.email, status: 'Failed', error: message };
    }
  }

  const form = h('form', { class: 'card', 'aria-labelledby': headingId },
    h('h2', { id: headingId }, t.bulk.uploadHeading),
    h('p', {}, t.bulk.intro),
    field(t.bulk.file, file, t.bulk.fileHint),
    alert,
    h('div', { class: 'actions' }, start,
      h('button', { type: 'button', class: 'secondary', onclick: () => download('BulkInviteTemplate.csv', bulkInviteTemplateCsv()) }, t.bulk.template)));
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    if (!parsed) return;
    start.disabled = true;
    file.disabled = true;
    const queue = [...parsed.rows];
    const done = parsed.results;
    const total = parsed.rows.length + parsed.results.length;
    const report = () => {
      const failed = done.filter((result) => result.status === 'Failed').length;
      progress.textContent = fill(t.bulk.progress, { done: done.length, total, failed });
    };
    report();
    await Promise.all(Array.from({ length: Math.min(CONCURRENCY, queue.length) }, async () => {
      for (let row = queue.shift(); row; row = queue.shift()) {
        done.push(await inviteRow(row));
        report();
      }
    }));
    const failed = done.filter((result) => result.status === 'Failed').length;
    progress.textContent = fill(t.bulk.finished, { succeeded: done.length - failed, failed });
    file.disabled = false;
    downloadButton.disabled = false;
    parsed.rows = [];
  });
  downloadButton.addEventListener('click', () => {
    if (parsed) download('BulkInviteResults.csv', writeBulkInviteResultsCsv(parsed.results));
  });

  return h('div', {}, form, progress, results, h('div', { class: 'actions' }, downloadButton));
}
