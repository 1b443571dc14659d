import { describeChange, describeTarget } from '../../../../lib/admin/auditChange.js';
import type { AuditEntry, Page } from '../api.js';
import type { ConsoleContext } from '../context.js';
import { h, replace } from '../dom.js';
import { Pager, table } from '../ui.js';

/** The tenant's audit log, newest first: who changed what. */
export async function auditPage(c: ConsoleContext): Promise<HTMLElement> {
  const { t } = c;
  const results = h('div', { class: 'results' });
  const pager = new Pager<Page<AuditEntry>>(t, (link) => c.api.audit(c.tenantId, link), (page) => replace(results, table(t.audit.caption, [
    { label: t.audit.at, cell: (e) => c.date(e.at) },
    { label: t.audit.actor, cell: (e) => (e.actor.kind === 'operator' ? t.audit.operator : `${e.actor.name} (${t.audit.adminKey})`) },
    { label: t.audit.action, cell: (e) => h('code', {}, e.action) },
    { label: t.audit.target, cell: (e) => describeTarget(e) },
    // One line per changed field, "field: before → after", wrapping rather than cut off.
    { label: t.audit.change, cell: (e) => h('ul', { class: 'change' }, ...describeChange(e.before, e.after).map((line) => h('li', {}, line))) },
  ], page.value, t.audit.none)));
  await pager.reset();
  return h('div', {}, results, pager.element);
}
