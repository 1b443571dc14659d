import { createHash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { fail } from '../errors.js';
import type { Runtime } from '../runtime.js';
import type { SigningAlgorithm } from '../signin/keys.js';
import { isStatus } from '../storage/tables.js';
import { resolveTenant } from '../tenants/tenants.js';
import type { AppRoleInput, CreateApplicationInput, UpdateApplicationInput } from './schemas.js';

/*
 * Applications (OAuth clients) registered per tenant. Each is a row of the tenant's
 * partition in the tenants table (RowKey `app_<clientId>`), so one tenant's clients are
 * invisible to another's routes. A confidential client's secret is 32 random bytes,
 * shown once and stored as its SHA-256: with that much entropy a slow hash adds
 * nothing, and the check stays one digest.
 */
const APP_PREFIX = 'app_';

export type ClientType = 'public' | 'confidential';

export interface Application {
  clientId: string;
  displayName: string;
  clientType: ClientType;
  redirectUris: string[];
  postLogoutRedirectUris: string[];
  /** How its ID tokens are signed (Dynamic Client Registration 1.0 §2's id_token_signed_response_alg). */
  idTokenSignedResponseAlg: SigningAlgorithm;
  /** Roles operators assign to guests; tokens for this application carry their values (`roles`). */
  appRoles: AppRole[];
  createdAt: string;
  updatedAt: string;
}

/** Microsoft Graph's appRole. */
export interface AppRole {
  id: string;
  value: string;
  displayName: string;
  description: string;
  allowedMemberTypes: 'User'[];
  isEnabled: boolean;
}

interface ApplicationEntity {
  displayName: string;
  clientType: ClientType;
  redirectUris: string;
  postLogoutRedirectUris: string;
  /** Absent on rows written before RS256 existed: those applications were signed ES256 and stay so. */
  idTokenSignedResponseAlg?: SigningAlgorithm;
  /** JSON of AppRole[]; absent on rows from before app roles. */
  appRoles?: string;
  secretHash?: string;
  createdAt: string;
  updatedAt: string;
}

export interface StoredApplication extends Application {
  tenantId: string;
  secretHash?: string;
}

function toApplication(tenantId: string, rowKey: string, row: ApplicationEntity): StoredApplication {
  return {
    tenantId,
    clientId: rowKey.slice(APP_PREFIX.length),
    displayName: row.displayName,
    clientType: row.clientType,
    redirectUris: JSON.parse(row.redirectUris) as string[],
    postLogoutRedirectUris: JSON.parse(row.postLogoutRedirectUris) as string[],
    idTokenSignedResponseAlg: row.idTokenSignedResponseAlg ?? 'ES256',
    appRoles: row.appRoles ? (JSON.parse(row.appRoles) as AppRole[]) : [],
    secretHash: row.secretHash,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
  };
}

/** What the management API shows: never the secret's hash. */
function publicView({ tenantId: _tenant, secretHash: _hash, ...application }: StoredApplication): Application {
  return application;
}

function newSecret(): { secret: string; hash: string } {
  const secret = randomBytes(32).toString('base64url');
  return { secret, hash: secretDigest(secret) };
}

function secretDigest(secret: string): string {
  return createHash('sha256').update(secret).digest('base64url');
}

/** Constant-time comparison of a presented secret with the stored hash. */
export function secretMatches(application: StoredApplication, presented: string): boolean {
  if (!application.secretHash) return false;
  const a = Buffer.from(secretDigest(presented));
  const b = Buffer.from(application.secretHash);
  return a.length === b.length && timingSafeEqual(a, b);
}

function entity(tenantId: string, application: Application, secretHash: string | undefined) {
  return {
    partitionKey: tenantId,
    rowKey: APP_PREFIX + application.clientId,
    displayName: application.displayName,
    clientType: application.clientType,
    redirectUris: JSON.stringify(application.redirectUris),
    postLogoutRedirectUris: JSON.stringify(application.postLogoutRedirectUris),
    idTokenSignedResponseAlg: application.idTokenSignedResponseAlg,
    appRoles: JSON.stringify(application.appRoles),
    ...(secretHash ? { secretHash } : {}),
    createdAt: application.createdAt,
    updatedAt: application.updatedAt,
  };
}

/** Graph's roles carry an id the operator may choose; one left out is generated. */
function withIds(roles: AppRoleInput[]): AppRole[] {
  return roles.map((role) => ({ ...role, id: role.id ?? randomUUID() }));
}

export async function createApplication(rt: Runtime, tenantRef: string, input: CreateApplicationInput): Promise<Application & { clientSecret?: string }> {
  const { tenant } = await resolveTenant(rt, tenantRef, { fresh: true });
  const at = new Date(rt.now()).toISOString();
  const application: Application = {
    clientId: randomUUID(),
    displayName: input.displayName,
    clientType: input.clientType,
    redirectUris: [...new Set(input.redirectUris)],
    postLogoutRedirectUris: [...new Set(input.postLogoutRedirectUris)],
    idTokenSignedResponseAlg: input.idTokenSignedResponseAlg,
    appRoles: withIds(input.appRoles),
    createdAt: at,
    updatedAt: at,
  };
  const secret = input.clientType === 'confidential' ? newSecret() : undefined;
  await rt.tables.tenants.createEntity(entity(tenant.id, application, secret?.hash));
  return secret ? { ...application, clientSecret: secret.secret } : application;
}

export async function listApplications(rt: Runtime, tenantRef: string): Promise<{ value: Application[] }> {
  const { tenant } = await resolveTenant(rt, tenantRef, { fresh: true });
  const value: Application[] = [];
  const rows = rt.tables.tenants.listEntities<ApplicationEntity>({
    queryOptions: { filter: `PartitionKey eq '${tenant.id}' and RowKey ge '${APP_PREFIX}' and RowKey lt 'app\`'` },
  });
  for await (const row of rows) value.push(publicView(toApplication(tenant.id, row.rowKey!, row)));
  return { value };
}

/** The application with its secret's hash, or undefined: what the protocol endpoints check against. */
export async function findApplication(rt: Runtime, tenantId: string, clientId: string): Promise<StoredApplication | undefined> {
  if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(clientId)) return undefined;
  try {
    const row = await rt.tables.tenants.getEntity<ApplicationEntity>(tenantId, APP_PREFIX + clientId);
    return toApplication(tenantId, APP_PREFIX + clientId, row);
  } catch (error) {
    if (isStatus(error, 404)) return undefined;
    throw error;
  }
}

async function readApplication(rt: Runtime, tenantRef: string, clientId: string): Promise<{ stored: StoredApplication; etag: string }> {
  const { tenant } = await resolveTenant(rt, tenantRef, { fresh: true });
  try {
    const row = await rt.tables.tenants.getEntity<ApplicationEntity>(tenant.id, APP_PREFIX + clientId);
    return { stored: toApplication(tenant.id, APP_PREFIX + clientId, row), etag: row.etag };
  } catch (error) {
    if (isStatus(error, 404)) fail('application_not_found');
    throw error;
  }
}

export async function getApplication(rt: Runtime, tenantRef: string, clientId: string): Promise<Application> {
  return publicView((await readApplication(rt, tenantRef, clientId)).stored);
}

export async function updateApplication(rt: Runtime, tenantRef: string, clientId: string, input: UpdateApplicationInput): Promise<Application & { clientSecret?: string }> {
  const { stored, etag } = await readApplication(rt, tenantRef, clientId);
  if (input.rotateSecret && stored.clientType !== 'confidential') fail('not_confidential_client');
  const secret = input.rotateSecret ? newSecret() : undefined;
  const next: Application = {
    ...publicView(stored),
    displayName: input.displayName ?? stored.displayName,
    redirectUris: input.redirectUris ? [...new Set(input.redirectUris)] : stored.redirectUris,
    postLogoutRedirectUris: input.postLogoutRedirectUris ? [...new Set(input.postLogoutRedirectUris)] : stored.postLogoutRedirectUris,
    idTokenSignedResponseAlg: input.idTokenSignedResponseAlg ?? stored.idTokenSignedResponseAlg,
    appRoles: input.appRoles ? withIds(input.appRoles) : stored.appRoles,
    updatedAt: new Date(rt.now()).toISOString(),
  };
  // Replace, guarded by the ETag read: two concurrent changes never merge into a mix.
  try {
    await rt.tables.tenants.updateEntity(entity(stored.tenantId, next, secret?.hash ?? stored.secretHash), 'Replace', { etag });
  } catch (error) {
    if (isStatus(error, 404, 412)) fail('application_conflict');
    throw error;
  }
  return secret ? { ...next, clientSecret: secret.secret } : next;
}

/** Deleting an application stops new sign-ins and code redemptions for it at once. */
export async function deleteApplication(rt: Runtime, tenantRef: string, clientId: string): Promise<void> {
  const { stored } = await readApplication(rt, tenantRef, clientId);
  try {
    await rt.tables.tenants.deleteEntity(stored.tenantId, APP_PREFIX + clientId);
  } catch (error) {
    if (!isStatus(error, 404)) throw error;
  }
}
