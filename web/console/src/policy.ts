import type { ManagementApi, Policy } from './api.js';

/*
 * The organisation-default B2BManagementPolicy, edited the way the email one-time
 * passcode article's steps do (Get-AzureADPolicy, then Set-AzureADPolicy or
 * New-AzureADPolicy): find the organisation default of that type, change only the part
 * in question inside its definition, keep every other part, and create the policy when
 * there is none.
 */
export const B2B_MANAGEMENT_POLICY = 'B2BManagementPolicy';
export const ONE_TIME_PASSCODE = 'OneTimePasscode';

interface Definition {
  B2BManagementPolicy: {
    PreviewPolicy?: { Features?: string[]; [other: string]: unknown };
    InvitationsAllowedAndBlockedDomainsPolicy?: { AllowedDomains?: string[]; BlockedDomains?: string[] };
    [other: string]: unknown;
  };
  [other: string]: unknown;
}

export type DomainRule = { kind: 'any' } | { kind: 'allow' | 'block'; domains: string[] };

export function organizationDefault(policies: Policy[]): Policy | undefined {
  return policies.find((policy) => policy.type === B2B_MANAGEMENT_POLICY && policy.isOrganizationDefault);
}

function read(policy: Policy | undefined): Definition {
  const parsed = policy ? (JSON.parse(policy.definition[0] ?? '{}') as Partial<Definition>) : {};
  return { ...parsed, B2BManagementPolicy: { ...(parsed.B2BManagementPolicy ?? {}) } };
}

/** Whether the policy turns OTP on (true), off (false), or there is no policy (undefined: the deployment's default). */
export function passcodeSetting(policy: Policy | undefined): boolean | undefined {
  if (!policy) return undefined;
  return (read(policy).B2BManagementPolicy.PreviewPolicy?.Features ?? []).includes(ONE_TIME_PASSCODE);
}

export function domainRule(policy: Policy | undefined): DomainRule {
  const rule = policy ? read(policy).B2BManagementPolicy.InvitationsAllowedAndBlockedDomainsPolicy : undefined;
  if (rule?.AllowedDomains) return { kind: 'allow', domains: rule.AllowedDomains };
  if (rule?.BlockedDomains?.length) return { kind: 'block', domains: rule.BlockedDomains };
  return { kind: 'any' };
}

function withPasscode(definition: Definition, enabled: boolean): void {
  const preview = { ...(definition.B2BManagementPolicy.PreviewPolicy ?? {}) };
  const features = (preview.Features ?? []).filter((feature) => feature !== ONE_TIME_PASSCODE);
  if (enabled) features.push(ONE_TIME_PASSCODE);
  definition.B2BManagementPolicy.PreviewPolicy = { ...preview, Features: features };
}

function withDomainRule(definition: Definition, rule: DomainRule): void {
  if (rule.kind === 'any') delete definition.B2BManagementPolicy.InvitationsAllowedAndBlockedDomainsPolicy;
  else definition.B2BManagementPolicy.InvitationsAllowedAndBlockedDomainsPolicy = rule.kind === 'allow' ? { AllowedDomains: rule.domains } : { BlockedDomains: rule.domains };
}

/**
 * Writes one change into the organisation-default policy. `passcode` is what OTP should
 * be when the policy has to be created (a new policy must say it, or it would turn OTP off).
 */
export async function changeOrganizationDefault(
  api: ManagementApi,
  tenant: string,
  change: { passcode?: boolean; domains?: DomainRule },
): Promise<Policy> {
  const policy = organizationDefault((await api.policies(tenant)).value);
  const definition = read(policy);
  if (change.passcode !== undefined) withPasscode(definition, change.passcode);
  if (change.domains) withDomainRule(definition, change.domains);
  if (policy) return api.updatePolicy(tenant, policy.id, [JSON.stringify(definition)]);
  return api.createPolicy(tenant, { type: B2B_MANAGEMENT_POLICY, displayName: B2B_MANAGEMENT_POLICY, isOrganizationDefault: true, definition: [JSON.stringify(definition)] });
}
