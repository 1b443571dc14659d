/**
 * The management API as the console calls it: every request carries the signed-in
 * credential in `x-functions-key` (never in a URL), answers are typed from lib/'s zod
 * schemas (type-only imports: nothing of zod reaches the browser), and errors arrive as
 * ApiError with the contract's code. A 401 means the credential is no longer good
 * (revoked, or mistyped): the console signs out.
 */
import type { z } from 'zod';
import type { auditPageResponse, domainResponse, keyListResponse, lifecycleResponse, meResponse } from '../../../lib/admin/schemas.js';
import type { SignInSummary } from '../../../lib/admin/signInSummary.js';
import type { createdWebhookResponse, rotatedSecretResponse, webhookView } from '../../../lib/events/schemas.js';
import type { appRoleAssignmentResponse, applicationResponse } from '../../../lib/oidc/schemas.js';
import type { guestPageResponse, guestResponse, invitationResponse, policyListResponse, policyResponse, signInLogPageResponse, tenantResponse } from '../../../lib/schemas.js';

export type Guest = z.infer<typeof guestResponse>;
export type GuestPage = z.infer<typeof guestPageResponse>;
export type Invitation = z.infer<typeof invitationResponse>;
export type Policy = z.infer<typeof policyResponse>;
export type PolicyList = z.infer<typeof policyListResponse>;
export type SignInLogPage = z.infer<typeof signInLogPageResponse>;
export type SignInLogEntry = SignInLogPage['value'][number];
export type Tenant = z.infer<typeof tenantResponse>;
export type Lifecycle = Tenant['lifecycle'];
export type Me = z.infer<typeof meResponse>;
export type AdminKey = z.infer<typeof keyListResponse>['value'][number];
export type AuditEntry = z.infer<typeof auditPageResponse>['value'][number];
export type Domain = z.infer<typeof domainResponse>;
export type LifecycleAction = z.infer<typeof lifecycleResponse>['value'][number];
export type HourSummary = SignInSummary['value'][number];
export type WebhookEndpoint = z.infer<typeof webhookView>;
export type CreatedWebhook = z.infer<typeof createdWebhookResponse>;
export type RotatedSecret = z.infer<typeof rotatedSecretResponse>;
export type Application = z.infer<typeof applicationResponse>;
export type AppRoleAssignment = z.infer<typeof appRoleAssignmentResponse>;

export interface Page<T> {
  value: T[];
  nextLink?: string;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: unknown[],
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export interface ApiOptions {
  credential: string;
  /** The API's base URL, ending in `/` (the console lives at `<base>manage/console/`). */
  base: string;
  /** Called once when the server refuses the credential. */
  onUnauthorized: () => void;
}

function pathOf(tenant: string): string {
  return `manage/tenants/${encodeURIComponent(tenant)}`;
}

function query(parameters: Record<string, string | number | undefined>): string {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(parameters)) if (value !== undefined && value !== '') search.set(name, String(value));
  const text = search.toString();
  return text ? `?${text}` : '';
}

export class ManagementApi {
  readonly #options: ApiOptions;

  constructor(options: ApiOptions) {
    this.#options = options;
  }

  /**
   * Resolves a path (or a nextLink) against the API base, always on the console's own
   * origin: a nextLink naming another host is read for its path and query only, so the
   * credential never leaves for another origin.
   */
  url(pathOrLink: string): string {
    const base = new URL(this.#options.base);
    const resolved = new URL(pathOrLink, base);
    return new URL(resolved.pathname + resolved.search, base.origin).href;
  }

  async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    let response: Response;
    try {
      response = await fetch(this.url(path), {
        method,
        headers: { 'x-functions-key': this.#options.credential, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        body: body === undefined ? undefined : JSON.stringify(body),
        credentials: 'omit',
        cache: 'no-store',
      });
    } catch (error) {
      throw new ApiError(0, 'network_error', (error as Error).message);
    }
    if (response.status === 204) return undefined as T;
    const text = await response.text();
    let parsed: Record<string, unknown> | undefined;
    try {
      parsed = text ? (JSON.parse(text) as Record<string, unknown>) : undefined;
    } catch {
      parsed = undefined;
    }
    if (response.ok) return parsed as T;
    if (response.status === 401) this.#options.onUnauthorized();
    const code = typeof parsed?.error === 'string' ? parsed.error : 'no_body';
    const message = typeof parsed?.message === 'string' ? parsed.message : `HTTP ${response.status}`;
    throw new ApiError(response.status, code, message, Array.isArray(parsed?.details) ? parsed.details : undefined);
  }

  /** What the credential may do: the operator, or a tenant admin key and its tenant. */
  me(): Promise<Me> {
    return this.request('GET', 'manage/me');
  }

  listTenants(link?: string): Promise<Page<Tenant>> {
    return this.request('GET', link ?? 'manage/tenants');
  }
  tenant(tenant: string): Promise<Tenant> {
    return this.request('GET', pathOf(tenant));
  }
  updateTenant(tenant: string, changes: Record<string, unknown>): Promise<Tenant> {
    return this.request('PATCH', pathOf(tenant), changes);
  }

  guests(tenant: string, filter: { source?: string; state?: string; search?: string; $top?: number }, link?: string): Promise<GuestPage> {
    return this.request('GET', link ?? `${pathOf(tenant)}/users${query(filter)}`);
  }
  invite(tenant: string, body: { invitedUserEmailAddress: string; inviteRedirectUrl: string; invitedUserDisplayName?: string; sendInvitationMessage?: boolean; invitedUserMessageInfo?: { customizedMessageBody?: string }; resetRedemption?: boolean }): Promise<Invitation> {
    return this.request('POST', `${pathOf(tenant)}/invitations`, body);
  }
  /** Block (false) or unblock (true) a guest's sign-in: Graph's accountEnabled. */
  setAccountEnabled(tenant: string, id: string, accountEnabled: boolean): Promise<Guest> {
    return this.request('PATCH', `${pathOf(tenant)}/users/${encodeURIComponent(id)}`, { accountEnabled });
  }
  deleteGuest(tenant: string, id: string): Promise<void> {
    return this.request('DELETE', `${pathOf(tenant)}/users/${encodeURIComponent(id)}`);
  }

  policies(tenant: string): Promise<PolicyList> {
    return this.request('GET', `${pathOf(tenant)}/policies`);
  }
  createPolicy(tenant: string, body: { type: string; displayName: string; isOrganizationDefault: boolean; definition: string[] }): Promise<Policy> {
    return this.request('POST', `${pathOf(tenant)}/policies`, body);
  }
  updatePolicy(tenant: string, id: string, definition: string[]): Promise<Policy> {
    return this.request('PATCH', `${pathOf(tenant)}/policies/${encodeURIComponent(id)}`, { definition });
  }

  domains(tenant: string): Promise<Page<Domain>> {
    return this.request('GET', `${pathOf(tenant)}/domains`);
  }
  addDomain(tenant: string, name: string): Promise<Domain> {
    return this.request('POST', `${pathOf(tenant)}/domains`, { name });
  }
  verifyDomain(tenant: string, name: string): Promise<Domain> {
    return this.request('POST', `${pathOf(tenant)}/domains/${encodeURIComponent(name)}/verify`);
  }
  removeDomain(tenant: string, name: string): Promise<void> {
    return this.request('DELETE', `${pathOf(tenant)}/domains/${encodeURIComponent(name)}`);
  }

  lifecyclePreview(tenant: string): Promise<Page<LifecycleAction>> {
    return this.request('GET', `${pathOf(tenant)}/lifecycle/preview`);
  }

  signInLogs(tenant: string, filter: { userId?: string; outcome?: string; since?: string; until?: string; $top?: number }, link?: string): Promise<SignInLogPage> {
    return this.request('GET', link ?? `${pathOf(tenant)}/sign-in-logs${query(filter)}`);
  }
  signInSummary(tenant: string, hours: number): Promise<Page<HourSummary>> {
    return this.request('GET', `${pathOf(tenant)}/sign-in-logs/summary${query({ hours })}`);
  }

  audit(tenant: string, link?: string): Promise<Page<AuditEntry>> {
    return this.request('GET', link ?? `${pathOf(tenant)}/audit${query({ $top: 50 })}`);
  }

  keys(tenant: string): Promise<Page<AdminKey>> {
    return this.request('GET', `${pathOf(tenant)}/keys`);
  }
  createKey(tenant: string, name: string): Promise<AdminKey & { key: string }> {
    return this.request('POST', `${pathOf(tenant)}/keys`, { name });
  }
  revokeKey(tenant: string, id: string): Promise<void> {
    return this.request('DELETE', `${pathOf(tenant)}/keys/${encodeURIComponent(id)}`);
  }
  webhooks(tenant: string): Promise<Page<WebhookEndpoint>> {
    return this.request('GET', `${pathOf(tenant)}/webhooks`);
  }
  createWebhook(tenant: string, body: { url: string; events?: string[]; description?: string }): Promise<CreatedWebhook> {
    return this.request('POST', `${pathOf(tenant)}/webhooks`, body);
  }
  updateWebhook(tenant: string, id: string, body: { enabled?: boolean }): Promise<WebhookEndpoint> {
    return this.request('PATCH', `${pathOf(tenant)}/webhooks/${encodeURIComponent(id)}`, body);
  }
  rotateWebhookSecret(tenant: string, id: string): Promise<RotatedSecret> {
    return this.request('POST', `${pathOf(tenant)}/webhooks/${encodeURIComponent(id)}/rotate-secret`);
  }
  deleteWebhook(tenant: string, id: string): Promise<void> {
    return this.request('DELETE', `${pathOf(tenant)}/webhooks/${encodeURIComponent(id)}`);
  }

  applications(tenant: string): Promise<Page<Application>> {
    return this.request('GET', `${pathOf(tenant)}/applications`);
  }
  appRoleAssignments(tenant: string, guestId: string): Promise<Page<AppRoleAssignment>> {
    return this.request('GET', `${pathOf(tenant)}/users/${encodeURIComponent(guestId)}/appRoleAssignments`);
  }
  /** Graph's POST /users/{id}/appRoleAssignments: resourceId is the application's client id. */
  assignAppRole(tenant: string, guestId: string, appRoleId: string, resourceId: string): Promise<AppRoleAssignment> {
    return this.request('POST', `${pathOf(tenant)}/users/${encodeURIComponent(guestId)}/appRoleAssignments`, { appRoleId, resourceId });
  }
  removeAppRoleAssignment(tenant: string, guestId: string, assignmentId: string): Promise<void> {
    return this.request('DELETE', `${pathOf(tenant)}/users/${encodeURIComponent(guestId)}/appRoleAssignments/${encodeURIComponent(assignmentId)}`);
  }
}
