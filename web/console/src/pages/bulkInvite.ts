import {
  ALREADY_INVITED, addressKey, BulkInviteCsvError, bulkInviteTemplateCsv, countBulkInvite, decodeBulkInviteCsv, parseBulkInviteCsv, planBulkInvite,
  skipAlreadyInvited, writeBulkInviteResultsCsv,
  type BulkInvitePlan, type BulkInviteResult, type BulkInviteRow,
} from '../../../../lib/admin/bulkInviteCsv.js';
import { fill, type ConsoleContext } from '../context.js';
import { download, field, h, replace, uid } from '../dom.js';
import { alertBox, errorText } from '../ui.js';

/** Invitations in flight at once: enough to be quick, few enough to stay under the per-client limits. */
const CONCURRENCY = 4;

type RowState = 'Waiting' | 'Running' | BulkInviteResult['status'];

/**
 * Bulk invite from Entra's CSV template, read and checked with the same code as the CLI
 * (lib/admin/bulkInviteCsv.ts): the whole file is checked before anything is sent (rows
 * it gets wrong fail with their reason, a repeated address is skipped as the same as its
 * first row), then, when the operator starts, addresses that are already guests are
 * skipped unless "send again" is ticked, so uploading a file twice mails nobody twice.
 * The others are invited a few at a time, each row's result shown as it arrives.
 */
export async function bulkInvitePage(c: ConsoleContext): Promise<HTMLElement> {
  const { t } = c;
  const file = h('input', { type: 'file', name: 'csv', accept: '.csv,text/csv' });
  const resend = h('input', { type: 'checkbox', name: 'resend' });
  const alert = alertBox();
  const progress = h('p', { class: 'progress', role: 'status', 'aria-live': 'polite' });
  const results = h('div', { class: 'results' });
  const start = h('button', { type: 'submit', disabled: true }, t.bulk.start);
  const downloadButton = h('button', { type: 'button', class: 'secondary', disabled: true }, t.bulk.download);
  const headingId = uid('upload');
  let plan: BulkInvitePlan | undefined;
  let outcomes: BulkInviteResult[] = [];
  const states = new Map<number, { state: HTMLElement; detail: HTMLElement }>();

  /** A reason in the reader's words; the results file keeps the portable English one. */
  const reason = (text: string) => {
    const same = /^same as row (\d+)$/.exec(text);
    if (same) return fill(t.bulk.sameAs, { row: same[1]! });
    return text === ALREADY_INVITED ? t.bulk.alreadyInvited : text;
  };

  function show(row: number, email: string, state: RowState, detail: string) {
    let cells = states.get(row);
    if (!cells) {
      cells = { state: h('td', {}), detail: h('td', {}) };
      states.set(row, cells);
      results.querySelector('tbody')!.append(h('tr', {}, h('td', {}, String(row)), h('td', {}, email), cells.state, cells.detail));
    }
    cells.state.className = `state-${state.toLowerCase()}`;
    cells.state.textContent = t.bulk.states[state];
    cells.detail.textContent = reason(detail);
  }

  file.addEventListener('change', async () => {
    alert.textContent = '';
    progress.textContent = '';
    start.disabled = true;
    downloadButton.disabled = true;
    plan = undefined;
    outcomes = [];
    states.clear();
    replace(results);
    const chosen = file.files?.[0];
    if (!chosen) return;
    try {
      plan = planBulkInvite(parseBulkInviteCsv(decodeBulkInviteCsv(new Uint8Array(await chosen.arrayBuffer()))));
    } catch (error) {
      alert.textContent = error instanceof BulkInviteCsvError ? `${t.bulk.unreadable} ${error.message}` : errorText(t, error);
      return;
    }
    replace(results, h('div', { class: 'table-wrap' }, h('table', {},
      h('caption', {}, fill(t.bulk.caption, { file: chosen.name })),
      h('thead', {}, h('tr', {}, ...[t.bulk.row, t.guests.email, t.bulk.status, t.bulk.detail].map((label) => h('th', { scope: 'col' }, label)))),
      h('tbody', {}))));
    outcomes = [...plan.decided];
    const all = [...plan.todo.map((row) => ({ row: row.row, email: row.email })), ...plan.decided].sort((a, b) => a.row - b.row);
    for (const { row, email } of all) {
      const decided = plan.decided.find((result) => result.row === row);
      show(row, email, decided ? decided.status : 'Waiting', decided?.error ?? '');
    }
    const counts = countBulkInvite(plan.decided, plan.total);
    progress.textContent = fill(t.bulk.parsed, { total: plan.total, valid: plan.todo.length, skipped: counts.skipped, invalid: counts.failed });
    start.disabled = plan.todo.length === 0;
    downloadButton.disabled = plan.todo.length > 0;
  });

  /** The addresses of `rows` that are already guests: a few looked up one by one, more through the guest list. */
  async function alreadyInvited(rows: BulkInviteRow[]): Promise<Set<string>> {
    const found = new Set<string>();
    if (rows.length > 100) {
      for (let link: string | undefined, first = true; first || link; first = false) {
        const page = await c.api.guests(c.tenantId, { $top: 100 }, link);
        for (const guest of page.value) found.add(addressKey(guest.email));
        link = page.nextLink;
      }
      return found;
    }
    const queue = rows.map((row) => addressKey(row.email));
    await Promise.all(Array.from({ length: Math.min(CONCURRENCY, queue.length) }, async () => {
      for (let key = queue.shift(); key; key = queue.shift()) {
        const page = await c.api.guests(c.tenantId, { search: key, $top: 2 });
        if (page.value.some((guest) => addressKey(guest.email) === key)) found.add(key);
      }
    }));
    return found;
  }

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
      // The address is in the row; the id goes to the results file only (tables show addresses, not ids).
      show(row.row, row.email, 'Succeeded', row.sendEmail ? t.bulk.mailed : t.bulk.notMailed);
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
    h('div', { class: 'check' }, resend, h('label', { for: (resend.id = uid('resend')) }, t.bulk.resend)),
    alert,
    h('div', { class: 'actions' }, start,
      h('button', { type: 'button', class: 'secondary', onclick: () => download('BulkInviteTemplate.csv', bulkInviteTemplateCsv()) }, t.bulk.template)));
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    if (!plan) return;
    const current = plan;
    start.disabled = true;
    file.disabled = true;
    const total = current.total;
    const report = () => {
      const { failed } = countBulkInvite(outcomes, total);
      progress.textContent = fill(t.bulk.progress, { done: outcomes.length, total, failed });
    };
    try {
      progress.textContent = t.bulk.checking;
      const { todo, skipped } = skipAlreadyInvited(current.todo, await alreadyInvited(current.todo), resend.checked);
      for (const result of skipped) show(result.row, result.email, 'Skipped', result.error ?? '');
      outcomes.push(...skipped);
      report();
      const queue = [...todo];
      await Promise.all(Array.from({ length: Math.min(CONCURRENCY, queue.length) }, async () => {
        for (let row = queue.shift(); row; row = queue.shift()) {
          outcomes.push(await inviteRow(row));
          report();
        }
      }));
      const counts = countBulkInvite(outcomes, total);
      progress.textContent = fill(t.bulk.finished, { succeeded: counts.succeeded, failed: counts.failed, skipped: counts.skipped, total });
      // Run once: choosing the file again checks it anew against the guests it just made.
      current.todo = [];
    } catch (error) {
      alert.textContent = errorText(t, error);
      start.disabled = false;
    } finally {
      file.disabled = false;
      downloadButton.disabled = false;
    }
  });
  downloadButton.addEventListener('click', () => {
    download('BulkInviteResults.csv', writeBulkInviteResultsCsv(outcomes));
  });

  return h('div', {}, form, progress, results, h('div', { class: 'actions' }, downloadButton));
}
