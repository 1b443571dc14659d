/**
 * The B2BManagementPolicy of Azure AD, as guestpass stores it: OTP is on for a
 * tenant when its organisation-default policy lists "OneTimePasscode" in
 * B2BManagementPolicy.PreviewPolicy.Features; with no such policy the
 * OTP_DEFAULT_ENABLED setting decides.
 */
export const B2B_MANAGEMENT_POLICY = 'B2BManagementPolicy';
export const ONE_TIME_PASSCODE = 'OneTimePasscode';

export interface PolicyRecord {
  id: string;
  type: string;
  displayName: string;
  isOrganizationDefault: boolean;
  definition: string[];
  createdAt: string;
  updatedAt: string;
}

export function policyFeatures(definition: string[]): string[] {
  const parsed = JSON.parse(definition[0] ?? '{}') as {
    B2BManagementPolicy?: { PreviewPolicy?: { Features?: unknown } };
  };
  const features = parsed.B2BManagementPolicy?.PreviewPolicy?.Features;
  return Array.isArray(features) ? features.filter((f): f is string => typeof f === 'string') : [];
}

export function isOtpEnabled(policies: PolicyRecord[], otpDefaultEnabled: boolean): boolean {
  const orgDefault = policies.find((p) => p.type === B2B_MANAGEMENT_POLICY && p.isOrganizationDefault);
  if (!orgDefault) return otpDefaultEnabled;
  try {
    return policyFeatures(orgDefault.definition).includes(ONE_TIME_PASSCODE);
  } catch {
    return otpDefaultEnabled;
  }
}
