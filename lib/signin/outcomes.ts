/*
 * Every outcome a sign-in log row can hold: what send-code and verify-code record
 * (lib/signin/sendCode.ts, verifyCode.ts) and the refusals logged at most once per reason per hour a
 * guest (lib/signin/refusals.ts). The CLI's --outcome and the console's filter offer
 * exactly these; the management API filters by them. No imports: the CLI bundles it.
 */
export const SIGN_IN_OUTCOMES = [
  'code_sent',
  'signed_in',
  'invalid_code',
  'email_failed',
  'no_sign_in_method',
  'other_method_AzureAD',
  'other_method_MSA',
  'other_method_Google',
  // Refusals, at most once per reason per hour a guest (lib/signin/refusals.ts).
  'domain_blocked',
  'otp_disabled',
  'guest_disabled',
] as const;
export type SignInOutcome = (typeof SIGN_IN_OUTCOMES)[number];
