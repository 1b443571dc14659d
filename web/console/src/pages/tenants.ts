import type { ManagementApi, Page, Tenant } from '../api.js';
import { field, h, replace } from '../dom.js';
import type { Messages } from '../messages.js';
import { alertBox, errorText, Pager, table } from '../ui.js';

export interface TenantsContext {
  api: ManagementApi;
  t: Messages;
  date(iso: string | null | undefined): string;
  current: string | undefined;
  open(id: string): void;
}

/** Operator only: every tenant of the deployment, and the tenant to run. */
export async function tenantsPage(c: TenantsContext): Promise<HTMLElement> {
  const { t } = c;
  const results = h('div', { class: 'results' });
  const pager = new Pager<Page<Tenant>>(t, (link) => c.api.listTenants(link), (page) => replace(results, table(t.tenants.caption, [
    { label: t.tenants.name, cell: (tenant) => tenant.displayName },
    { label: t.tenants.domains, cell: (tenant) => tenant.domains.join(', ') },
    { label: t.tenants.id, cell: (tenant) => h('code', {}, tenant.id) },
    { label: t.tenants.created, cell: (tenant) => c.date(tenant.createdAt) },
    { label: t.actions, cell: (tenant) => h('button', { type: 'button', class: 'small', 'aria-label': `${t.tenants.open} ${tenant.displayName}`, 'aria-pressed': tenant.id === c.current ? 'true' : 'false', onclick: () => c.open(tenant.id) }, t.tenants.open) },
  ], page.value, t.tenants.none)));
  await pager.reset();
  return h('div', { class: 'stack' }, openTenantForm(c), results, pager.element);
}

/** Opens a tenant by id or verified domain. */
export function openTenantForm(c: TenantsContext): HTMLElement {
  const { t } = c;
  const input = h('input', { type: 'text', name: 'tenant', required: true, spellcheck: 'false', autocomplete: 'off' });
  const alert = alertBox();
  const form = h('form', { class: 'card inline' }, field(t.tenants.pick, input, t.tenants.pickHint), h('button', { type: 'submit' }, t.tenants.open), alert);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    try {
      const tenant = await c.api.tenant(input.value.trim());
      c.open(tenant.id);
    } catch (error) {
      alert.textContent = errorText(t, error);
    }
  });
  return form;
}
