import type { ManagementApi, Me, Tenant } from './api.js';
import type { Lang, Messages } from './messages.js';

/** What every page gets: the API as the signed-in credential, the tenant, the words, and the shell's helpers. */
export interface ConsoleContext {
  api: ManagementApi;
  me: Me;
  /** The tenant being run: a tenant admin's own, or the one an operator picked. */
  tenantId: string;
  tenant: Tenant;
  t: Messages;
  lang: Lang;
  /** Read out by screen readers (a polite live region), e.g. "Invited ann@example.com". */
  announce(text: string): void;
  /** A modal question; resolves true when confirmed. */
  confirm(question: string, confirmLabel: string): Promise<boolean>;
  date(iso: string | null | undefined): string;
  /** Reloads the tenant after a change of its settings. */
  refreshTenant(): Promise<Tenant>;
}

/** Fills `{name}` placeholders (as text). */
export function fill(template: string, values: Record<string, string | number>): string {
  return template.replace(/\{(\w+)\}/g, (whole, name: string) => (name in values ? String(values[name]) : whole));
}
