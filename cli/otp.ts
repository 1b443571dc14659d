import type { PolicyRecord as Policy } from '../lib/tenants/policy.js';
import { tenantPath, type ManagementClient } from './client.js';

/*
 * `guestpass otp enable|disable` as the seed article's PowerShell does it (Get-AzureADPolicy,
 * then Set-AzureADPolicy or New-AzureADPolicy): find the organisation-default
 * B2BManagementPolicy, add or remove "OneTimePasscode" in PreviewPolicy.Features, or create
 * the policy if there is none. Everything else in the definition (the allow/deny list of
 * InvitationsAllowedAndBlockedDomainsPolicy among it) is kept as it is.
 */
export type { Policy };

export const ONE_TIME_PASSCODE = 'OneTimePasscode';

export async function organizationDefault(client: ManagementClient, tenant: string): Promise<Policy | undefined> {
  const { value } = await client.get<{ value: Policy[] }>(tenantPath(tenant, '/policies'));
  return value.find((policy) => policy.type === 'B2BManagementPolicy' && policy.isOrganizationDefault);
}

type Definition = { B2BManagementPolicy: { PreviewPolicy?: { Features?: string[] } & Record<string, unknown> } & Record<string, unknown> } & Record<string, unknown>;

export function featuresOf(policy: Policy): string[] {
  const parsed = JSON.parse(policy.definition[0] ?? '{}') as Partial<Definition>;
  return parsed.B2BManagementPolicy?.PreviewPolicy?.Features ?? [];
}

export async function setOneTimePasscode(client: ManagementClient, tenant: string, enabled: boolean): Promise<{ policy: Policy; action: 'created' | 'updated' | 'unchanged' }> {
  const policy = await organizationDefault(client, tenant);
  if (!policy) {
    const definition = { B2BManagementPolicy: { PreviewPolicy: { Features: enabled ? [ONE_TIME_PASSCODE] : [] } } };
    const created = await client.request<Policy>('POST', tenantPath(tenant, '/policies'), {
      type: 'B2BManagementPolicy',
      displayName: 'B2BManagementPolicy',
      isOrganizationDefault: true,
      definition: [JSON.stringify(definition)],
    });
    return { policy: created, action: 'created' };
  }
  const parsed = JSON.parse(policy.definition[0]!) as Definition;
  const features = parsed.B2BManagementPolicy.PreviewPolicy?.Features ?? [];
  if (features.includes(ONE_TIME_PASSCODE) === enabled) return { policy, action: 'unchanged' };
  const next = features.filter((feature) => feature !== ONE_TIME_PASSCODE);
  if (enabled) next.push(ONE_TIME_PASSCODE);
  parsed.B2BManagementPolicy.PreviewPolicy = { ...parsed.B2BManagementPolicy.PreviewPolicy, Features: next };
  const updated = await client.request<Policy>('PATCH', tenantPath(tenant, `/policies/${policy.id}`), { definition: [JSON.stringify(parsed)] });
  return { policy: updated, action: 'updated' };
}
