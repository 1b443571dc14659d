import type { AppRoleAssignment, Application, Guest } from '../api.js';
import { fill, type ConsoleContext } from '../context.js';
import { field, h, options, replace, uid } from '../dom.js';
import { alertBox, run, table, UserError } from '../ui.js';

interface RoleRow {
  application: Application;
  role: Application['appRoles'][number];
}

/**
 * App roles, as Entra assigns them to guests: the roles the tenant's applications define,
 * a form that gives one to a guest, and the roles a guest holds, each removable. Tokens for
 * the application carry the values (`roles`).
 */
export async function appRolesPage(c: ConsoleContext): Promise<HTMLElement> {
  const { t } = c;
  const alert = alertBox();
  const applications = (await c.api.applications(c.tenantId)).value;
  const rows: RoleRow[] = applications.flatMap((application) => application.appRoles.map((role) => ({ application, role })));
  const defined = table(t.roles.definedCaption, [
    { label: t.roles.application, cell: (r: RoleRow) => r.application.displayName },
    { label: t.roles.role, cell: (r: RoleRow) => r.role.displayName },
    { label: t.roles.value, cell: (r: RoleRow) => h('code', {}, r.role.value) },
    { label: t.roles.enabled, cell: (r: RoleRow) => (r.role.isEnabled ? t.roles.yes : t.roles.no) },
  ], rows, t.roles.noRoles);

  const assignable = rows.filter((r) => r.role.isEnabled);
  const email = h('input', { type: 'email', name: 'email', required: true, autocomplete: 'off', spellcheck: 'false' });
  const role = h('select', { name: 'role', required: true }, ...options(assignable.map((r, i): [string, string] => [String(i), `${r.application.displayName}: ${r.role.displayName} (${r.role.value})`])));
  const assign = h('button', { type: 'submit', disabled: assignable.length === 0 }, t.roles.assign);
  const show = h('button', { type: 'button', class: 'secondary' }, t.roles.show);
  const held = h('div', {});
  const headingId = uid('assign-role');
  const form = h('form', { class: 'card', 'aria-labelledby': headingId },
    h('h2', { id: headingId }, t.roles.assignHeading), field(t.roles.guest, email), field(t.roles.role, role), h('div', { class: 'inline' }, assign, show));

  async function findGuest(address: string): Promise<Guest> {
    const page = await c.api.guests(c.tenantId, { search: address, $top: 5 });
    const guest = page.value.find((g) => g.email.toLowerCase() === address.toLowerCase());
    if (!guest) throw new UserError(fill(t.roles.noGuest, { email: address }));
    return guest;
  }

  const roleName = (a: AppRoleAssignment) => rows.find((r) => r.application.clientId === a.resourceId && r.role.id === a.appRoleId)?.role.value ?? t.roles.deletedRole;

  async function showHeld(guest: Guest): Promise<void> {
    const assignments = (await c.api.appRoleAssignments(c.tenantId, guest.id)).value;
    replace(held, table(fill(t.roles.heldCaption, { email: guest.email }), [
      { label: t.roles.role, cell: (a: AppRoleAssignment) => h('code', {}, roleName(a)) },
      { label: t.roles.application, cell: (a: AppRoleAssignment) => a.resourceDisplayName },
      { label: t.roles.assignedAt, cell: (a: AppRoleAssignment) => c.date(a.createdDateTime) },
      { label: t.actions, cell: (a: AppRoleAssignment) => {
        const button: HTMLButtonElement = h('button', {
          type: 'button', class: 'small danger', 'aria-label': fill(t.roles.removeFor, { role: roleName(a), email: guest.email }),
          onclick: () => run(button, alert, t, async () => {
            await c.api.removeAppRoleAssignment(c.tenantId, guest.id, a.id);
            c.announce(fill(t.roles.removed, { role: roleName(a), email: guest.email }));
            await showHeld(guest);
          }),
        }, t.roles.remove);
        return button;
      } },
    ], assignments, t.roles.none));
  }

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    void run(assign, alert, t, async () => {
      const chosen = assignable[Number(role.value)];
      if (!chosen) return;
      const guest = await findGuest(email.value.trim());
      await c.api.assignAppRole(c.tenantId, guest.id, chosen.role.id, chosen.application.clientId);
      c.announce(fill(t.roles.assigned, { email: guest.email, role: chosen.role.value, app: chosen.application.displayName }));
      await showHeld(guest);
    });
  });
  show.addEventListener('click', () => {
    void run(show, alert, t, async () => showHeld(await findGuest(email.value.trim())));
  });

  return h('div', { class: 'stack' }, h('p', {}, t.roles.intro), defined, form, alert, held);
}
