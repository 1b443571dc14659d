import { randomUUID } from 'node:crypto';
import type { TableEntityResult, TransactionAction } from '@azure/data-tables';
import { fail } from '../errors.js';
import { B2B_MANAGEMENT_POLICY, ONE_TIME_PASSCODE, policyFeatures, type PolicyRecord } from './policy.js';
import type { Runtime } from '../runtime.js';
import {
  type CreateTenantInput,
  b2bManagementPolicyDefinition,
  type B2BManagementPolicyDefinition,
  type CreatePolicyInput,
  type EmailOtpSetting,
  type TenantSettingsInput,
  type UpdatePolicyInput,
} from '../schemas.js';
import { isStatus } from '../storage/tables.js';
import { createTenant, resolveTenant, toPolicy, updateTenant, type PolicyEntity, type Tenant } from './tenants.js';

/*
 * Policies live in the tenant's partition of the tenants table as rows `policy_<id>`
 * (loaded with the tenant, see tenants.ts). An organisation default also owns the row
 * `orgdefault_<type>`, created and deleted in the same entity-group transaction as the
 * policy, so two organisation defaults of one type can never both commit, however the
 * requests interleave. Every write drops this instance's cached tenant context.
 */
const POLICY_PREFIX = 'policy_';
const ORG_DEFAULT_PREFIX = 'orgdefault_';

export interface PolicyList {
  value: PolicyRecord[];
}

export interface TenantSettings extends Tenant {
  emailOtp: EmailOtpSetting;
}

/**
 * Checks a policy the way it will be read: a known type, and a definition that is an
 * array holding one JSON string with a B2BManagementPolicy object in it.
 */
export function validatePolicyDefinition(type: string, definition: string[]): string {
  if (type !== B2B_MANAGEMENT_POLICY) {
    fail('unsupported_policy_type', {
      message: `guestpass keeps policies of type ${B2B_MANAGEMENT_POLICY} only; "${type}" is not one.`,
      details: [{ field: 'body.type', message: `must be ${B2B_MANAGEMENT_POLICY}` }],
    });
  }
  if (definition.length !== 1) {
    fail('invalid_policy', { details: [{ field: 'body.definition', message: 'must be an array holding one JSON string' }] });
  }
  const text = definition[0]!;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    fail('invalid_policy', { details: [{ field: 'body.definition.0', message: 'is not valid JSON' }] });
  }
  const result = b2bManagementPolicyDefinition.safeParse(parsed);
  if (!result.success) {
    fail('invalid_policy', {
      details: result.error.issues.map((issue) => ({
        field: ['body', 'definition', '0', ...issue.path.map(String)].join('.'),
        message: issue.message,
      })),
    });
  }
  return text;
}

function policyEntity(tenantId: string, policy: PolicyRecord) {
  const entity: PolicyEntity = {
    policyType: policy.type,
    displayName: policy.displayName,
    isOrganizationDefault: policy.isOrganizationDefault,
    definition: policy.definition[0]!,
    createdAt: policy.createdAt,
    updatedAt: policy.updatedAt,
  };
  return { partitionKey: tenantId, rowKey: POLICY_PREFIX + policy.id, ...entity };
}

function orgDefaultKey(tenantId: string, type: string) {
  return { partitionKey: tenantId, rowKey: ORG_DEFAULT_PREFIX + type };
}

async function commitPolicyChange(rt: Runtime, tenantId: string, actions: TransactionAction[]): Promise<void> {
  try {
    await rt.tables.tenants.submitTransaction(actions);
  } catch (error) {
    // 409: the org-default row exists, so another policy of this type is the organisation default.
    if (isStatus(error, 409)) fail('policy_conflict');
    if (isStatus(error, 404, 412)) {
      fail('policy_conflict', { message: 'The policy was changed or removed at the same time. Read it again and retry.' });
    }
    throw error;
  } finally {
    rt.tenantCache.invalidate(tenantId);
  }
}

async function readPolicyRow(rt: Runtime, tenantId: string, id: string): Promise<TableEntityResult<PolicyEntity>> {
  try {
    return await rt.tables.tenants.getEntity<PolicyEntity>(tenantId, POLICY_PREFIX + id);
  } catch (error) {
    if (isStatus(error, 404)) fail('policy_not_found');
    throw error;
  }
}

async function insertPolicy(rt: Runtime, tenantId: string, input: CreatePolicyInput): Promise<PolicyRecord> {
  const definition = validatePolicyDefinition(input.type, input.definition);
  const at = new Date(rt.now()).toISOString();
  const policy: PolicyRecord = {
    id: randomUUID(),
    type: input.type,
    displayName: input.displayName,
    isOrganizationDefault: input.isOrganizationDefault,
    definition: [definition],
    createdAt: at,
    updatedAt: at,
  };
  const actions: TransactionAction[] = [['create', policyEntity(tenantId, policy)]];
  if (policy.isOrganizationDefault) actions.push(['create', { ...orgDefaultKey(tenantId, policy.type), policyId: policy.id }]);
  await commitPolicyChange(rt, tenantId, actions);
  return policy;
}

async function patchPolicy(rt: Runtime, tenantId: string, id: string, input: UpdatePolicyInput): Promise<PolicyRecord> {
  const row = await readPolicyRow(rt, tenantId, id);
  const before = toPolicy(row.rowKey!, row);
  const next: PolicyRecord = {
    ...before,
    displayName: input.displayName ?? before.displayName,
    isOrganizationDefault: input.isOrganizationDefault ?? before.isOrganizationDefault,
    definition: input.definition ? [validatePolicyDefinition(before.type, input.definition)] : before.definition,
    updatedAt: new Date(rt.now()).toISOString(),
  };
  const actions: TransactionAction[] = [['update', policyEntity(tenantId, next), 'Replace', { etag: row.etag }]];
  if (next.isOrganizationDefault && !before.isOrganizationDefault) {
    actions.push(['create', { ...orgDefaultKey(tenantId, next.type), policyId: next.id }]);
  }
  if (!next.isOrganizationDefault && before.isOrganizationDefault) actions.push(['delete', orgDefaultKey(tenantId, next.type)]);
  await commitPolicyChange(rt, tenantId, actions);
  return next;
}

async function removePolicy(rt: Runtime, tenantId: string, id: string): Promise<void> {
  const row = await readPolicyRow(rt, tenantId, id);
  // Deletes in a transaction are unconditional: a delete racing a change wins, as the later write.
  const actions: TransactionAction[] = [['delete', { partitionKey: tenantId, rowKey: row.rowKey! }]];
  if (row.isOrganizationDefault) actions.push(['delete', orgDefaultKey(tenantId, row.policyType)]);
  await commitPolicyChange(rt, tenantId, actions);
}

/** Get-AzureADPolicy: the tenant's policies. */
export async function listPolicies(rt: Runtime, tenantRef: string): Promise<PolicyList> {
  const { policies } = await resolveTenant(rt, tenantRef, { fresh: true });
  return { value: policies };
}

export async function getPolicy(rt: Runtime, tenantRef: string, id: string): Promise<PolicyRecord> {
  const { tenant } = await resolveTenant(rt, tenantRef);
  const row = await readPolicyRow(rt, tenant.id, id);
  return toPolicy(row.rowKey!, row);
}

/** New-AzureADPolicy. */
export async function createPolicy(rt: Runtime, tenantRef: string, input: CreatePolicyInput): Promise<PolicyRecord> {
  const { tenant } = await resolveTenant(rt, tenantRef);
  return insertPolicy(rt, tenant.id, input);
}

/** Set-AzureADPolicy: changes the definition, display name or organisation-default flag. */
export async function updatePolicy(rt: Runtime, tenantRef: string, id: string, input: UpdatePolicyInput): Promise<PolicyRecord> {
  const { tenant } = await resolveTenant(rt, tenantRef);
  return patchPolicy(rt, tenant.id, id, input);
}

/** Remove-AzureADPolicy. */
export async function deletePolicy(rt: Runtime, tenantRef: string, id: string): Promise<void> {
  const { tenant } = await resolveTenant(rt, tenantRef);
  await removePolicy(rt, tenant.id, id);
}

/* The emailOtp switch: one call that reads and writes the organisation-default policy. */

function organizationDefault(policies: PolicyRecord[]): PolicyRecord | undefined {
  return policies.find((policy) => policy.type === B2B_MANAGEMENT_POLICY && policy.isOrganizationDefault);
}

/** What the organisation-default policy says, in the switch's words (as isOtpEnabled reads it). */
export function emailOtpOf(policies: PolicyRecord[]): EmailOtpSetting {
  const policy = organizationDefault(policies);
  if (!policy) return 'default';
  try {
    return policyFeatures(policy.definition).includes(ONE_TIME_PASSCODE) ? 'enabled' : 'disabled';
  } catch {
    return 'default';
  }
}

function definitionWithPasscode(definition: string, enabled: boolean): string {
  const parsed = JSON.parse(definition) as B2BManagementPolicyDefinition;
  const features = parsed.B2BManagementPolicy.PreviewPolicy?.Features ?? [];
  if (features.includes(ONE_TIME_PASSCODE) === enabled) return definition;
  const next = features.filter((feature) => feature !== ONE_TIME_PASSCODE);
  if (enabled) next.push(ONE_TIME_PASSCODE);
  parsed.B2BManagementPolicy.PreviewPolicy = { ...parsed.B2BManagementPolicy.PreviewPolicy, Features: next };
  return JSON.stringify(parsed);
}

/** True when the definition says nothing but whether OneTimePasscode is on. */
function onlySaysPasscode(definition: string): boolean {
  const parsed = JSON.parse(definition) as B2BManagementPolicyDefinition;
  const only = (value: object, allowed: string[]) => Object.keys(value).every((key) => allowed.includes(key));
  const management = parsed.B2BManagementPolicy;
  const preview = management.PreviewPolicy ?? {};
  const features = preview.Features ?? [];
  return (
    only(parsed, ['B2BManagementPolicy']) &&
    only(management, ['PreviewPolicy']) &&
    only(preview, ['Features']) &&
    features.every((feature) => feature === ONE_TIME_PASSCODE)
  );
}

type PolicyChange =
  | { kind: 'none' }
  | { kind: 'create'; input: CreatePolicyInput }
  | { kind: 'update'; id: string; definition: string }
  | { kind: 'delete'; id: string };

/**
 * What setting emailOtp means for the policies, decided before anything is written:
 * enabled/disabled add or remove OneTimePasscode in the organisation default (creating
 * one if there is none, keeping every other setting in it); default removes a policy
 * that only held that switch, and refuses to throw away a policy that holds more.
 */
export function planEmailOtp(policies: PolicyRecord[], setting: EmailOtpSetting): PolicyChange {
  const policy = organizationDefault(policies);
  if (setting === 'default') {
    if (!policy) return { kind: 'none' };
    if (!onlySaysPasscode(policy.definition[0]!)) {
      fail('policy_conflict', {
        message: `The organisation-default ${B2B_MANAGEMENT_POLICY} holds other settings, so emailOtp cannot go back to "default". Set it to "enabled" or "disabled", or change the policy itself.`,
      });
    }
    return { kind: 'delete', id: policy.id };
  }
  const enabled = setting === 'enabled';
  if (!policy) {
    const definition = { B2BManagementPolicy: { PreviewPolicy: { Features: enabled ? [ONE_TIME_PASSCODE] : [] } } };
    return {
      kind: 'create',
      input: { type: B2B_MANAGEMENT_POLICY, displayName: B2B_MANAGEMENT_POLICY, isOrganizationDefault: true, definition: [JSON.stringify(definition)] },
    };
  }
  const definition = definitionWithPasscode(policy.definition[0]!, enabled);
  return definition === policy.definition[0] ? { kind: 'none' } : { kind: 'update', id: policy.id, definition };
}

async function applyPolicyChange(rt: Runtime, tenantId: string, change: PolicyChange): Promise<void> {
  if (change.kind === 'create') await insertPolicy(rt, tenantId, change.input);
  if (change.kind === 'update') await patchPolicy(rt, tenantId, change.id, { definition: [change.definition] });
  if (change.kind === 'delete') await removePolicy(rt, tenantId, change.id);
}

/** GET /manage/tenants/{tenant}: the tenant with its emailOtp switch. */
/** A new tenant has no policies, so its switch reads "default". */
export async function createTenantWithSettings(rt: Runtime, input: CreateTenantInput): Promise<TenantSettings> {
  return { ...(await createTenant(rt, input)), emailOtp: 'default' };
}

export async function readTenantSettings(rt: Runtime, tenantRef: string): Promise<TenantSettings> {
  const { tenant, policies } = await resolveTenant(rt, tenantRef, { fresh: true });
  return { ...tenant, emailOtp: emailOtpOf(policies) };
}

/**
 * PATCH /manage/tenants/{tenant}: the tenant's own settings and the emailOtp switch.
 * The switch is planned first, so a refused switch leaves the tenant unchanged.
 */
export async function changeTenantSettings(rt: Runtime, tenantRef: string, input: TenantSettingsInput): Promise<TenantSettings> {
  const { emailOtp, ...settings } = input;
  const { tenant, policies } = await resolveTenant(rt, tenantRef, { fresh: true });
  const change: PolicyChange = emailOtp ? planEmailOtp(policies, emailOtp) : { kind: 'none' };
  if (Object.keys(settings).length > 0) await updateTenant(rt, tenant.id, settings);
  await applyPolicyChange(rt, tenant.id, change);
  return readTenantSettings(rt, tenant.id);
}
