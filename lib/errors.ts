/**
 * Every error code guestpass answers with lives here once, with its HTTP status and
 * its human sentence. Handlers never spell out an error body: they throw or return
 * a GuestpassError and the HTTP adapter renders `{error, message, details?}`.
 */
export interface ErrorCodeDefinition {
  status: number;
  message: string;
}

function defineErrorCodes<T extends Record<string, ErrorCodeDefinition>>(codes: T): T {
  return codes;
}

export const ERROR_CODES = defineErrorCodes({
  invalid_request: { status: 400, message: 'The request is not valid.' },
  tenant_context_required: {
    status: 400,
    message: 'This endpoint needs a tenant: call /api/{tenant}/send-code with the tenant id or one of its verified domains, for example /api/contoso.com/send-code.',
  },
  invalid_redirect_uri: { status: 400, message: "inviteRedirectUrl must be one of the tenant's redirectUris." },
  invalid_policy: { status: 400, message: 'The policy is not valid.' },
  invalid_code: { status: 401, message: 'The code is not correct. Check the latest email and try again.' },
  code_expired: { status: 401, message: 'The code has expired. Ask for a new code.' },
  invalid_token: { status: 401, message: 'The session token is missing or not valid.' },
  session_expired: { status: 401, message: 'The session has expired. Sign in again.' },
  session_revoked: { status: 401, message: 'The session has ended. Sign in again.' },
  invalid_signature: { status: 401, message: 'The request is not signed, or not signed with the configured key.' },
  otp_disabled: { status: 403, message: 'Email one-time passcodes are turned off for this organisation.' },
  no_sign_in_method: { status: 403, message: 'There is no way for this guest to sign in to this organisation.' },
  tenant_not_found: { status: 404, message: 'No tenant has that id or verified domain.' },
  guest_not_found: { status: 404, message: 'No guest has that id in this tenant.' },
  policy_not_found: { status: 404, message: 'No policy has that id in this tenant.' },
  other_method_required: { status: 409, message: 'This guest signs in with another method, not with an email code.' },
  domain_taken: { status: 409, message: 'That domain is already verified by another tenant.' },
  origin_not_allowed: { status: 403, message: "This origin is not one of the tenant's allowedOrigins." },
  policy_conflict: { status: 409, message: 'This tenant already has an organisation-default policy of that type.' },
  challenge_required: {
    status: 428,
    message: 'This address is asked for a lot right now: solve the challenge and send the request again with its solution as stepUp.',
  },
  payload_too_large: { status: 413, message: 'The request body is larger than 16 KiB.' },
  unsupported_media_type: { status: 415, message: 'The request body must be JSON (Content-Type: application/json).' },
  rate_limited: { status: 429, message: 'Too many requests. Wait before asking for another code.' },
  mail_cap_reached: {
    status: 429,
    message: 'This organisation has sent as many emails today as it may. Try again after midnight UTC.',
  },
  too_many_attempts: { status: 429, message: 'Too many wrong codes. Ask for a new code later.' },
  internal_error: { status: 500, message: 'Something went wrong on our side.' },
  storage_unavailable: { status: 503, message: 'Storage is unavailable. Try again in a moment.' },
  unauthorized: { status: 401, message: 'A valid management credential is required in the x-functions-key header.' },
  console_file_not_found: { status: 404, message: 'The console has no such file.' },
  outbox_mail_not_found: { status: 404, message: 'No outbox mail has that id.' },
  forbidden: { status: 403, message: 'This credential may not do that: only the deployment operator may.' },
  key_not_found: { status: 404, message: 'No admin key has that id in this tenant.' },
  domain_not_found: { status: 404, message: 'This tenant has no such domain.' },
  domain_not_verified: { status: 400, message: 'The DNS TXT record that proves control of the domain was not found.' },
  invitation_domain_blocked: { status: 400, message: "Invitations to this email domain are not allowed by the tenant's B2BManagementPolicy." },
  domain_blocked: { status: 403, message: 'This organisation no longer accepts guests from this email domain.' },
  guest_disabled: { status: 403, message: 'This guest account is disabled. Ask the organisation to invite you again.' },
  // OAuth 2.0 / OpenID Connect: RFC 6749 §4.1.2.1 and §5.2 name these codes; the token
  // endpoint also sends each message as error_description.
  invalid_grant: { status: 400, message: 'The authorization code is not valid: unknown, expired, already used, or issued to another client, redirect URI or code verifier.' },
  invalid_client: { status: 401, message: 'Client authentication failed: unknown client_id, or a missing or wrong client secret.' },
  unsupported_grant_type: { status: 400, message: 'guestpass supports only grant_type=authorization_code.' },
  unsupported_response_type: { status: 400, message: 'guestpass supports response_type=code (the authorization code flow) and, for sign-in only, response_type=id_token with response_mode=form_post.' },
  invalid_scope: { status: 400, message: 'The scope must include openid.' },
  login_required: { status: 400, message: 'The guest must sign in: prompt=none cannot be honoured.' },
  request_not_supported: { status: 400, message: 'guestpass does not accept request objects.' },
  request_uri_not_supported: { status: 400, message: 'guestpass does not accept request_uri.' },
  authorization_request_expired: { status: 400, message: 'The sign-in took too long or its request is not valid. Go back to the app and sign in again.' },
  application_not_found: { status: 404, message: 'No application has that client id in this tenant.' },
  application_conflict: { status: 409, message: 'The application was changed or removed at the same time. Read it again and retry.' },
  app_role_not_found: { status: 404, message: 'The application has no app role with that appRoleId.' },
  app_role_assignment_exists: { status: 409, message: 'The guest already holds that app role.' },
  app_role_assignment_not_found: { status: 404, message: 'The guest has no app role assignment with that id.' },
  not_confidential_client: { status: 400, message: 'Only a confidential client has a secret to rotate.' },
  webhook_not_found: { status: 404, message: 'No webhook has that id in this tenant.' },
  invalid_webhook_url: { status: 400, message: 'The webhook url is not one guestpass may call.' },
  unsupported_policy_type: { status: 400, message: 'guestpass keeps policies of type B2BManagementPolicy only.' },
  unsupported_query: { status: 400, message: "This query option or expression is not one guestpass's Microsoft Graph endpoint supports." },
});

export type ErrorCode = keyof typeof ERROR_CODES;

export interface ErrorBody {
  error: ErrorCode;
  message: string;
  details?: unknown[];
  [extra: string]: unknown;
}

export interface ErrorOptions {
  message?: string;
  details?: unknown[];
  /** Seconds the caller should wait; rendered as the Retry-After header. */
  retryAfterSeconds?: number;
  /** Extra top-level fields the contract names for this code, such as `method`. */
  extra?: Record<string, unknown>;
  /** The underlying failure, for logs; never rendered to the caller. */
  cause?: unknown;
}

export class GuestpassError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly details?: unknown[];
  readonly retryAfterSeconds?: number;
  readonly extra?: Record<string, unknown>;

  constructor(code: ErrorCode, options: ErrorOptions = {}) {
    super(options.message ?? ERROR_CODES[code].message, { cause: options.cause });
    this.name = 'GuestpassError';
    this.code = code;
    this.status = ERROR_CODES[code].status;
    this.details = options.details;
    this.retryAfterSeconds = options.retryAfterSeconds;
    this.extra = options.extra;
  }

  toBody(): ErrorBody {
    return {
      error: this.code,
      message: this.message,
      ...(this.details ? { details: this.details } : {}),
      ...this.extra,
    };
  }
}

export function fail(code: ErrorCode, options?: ErrorOptions): never {
  throw new GuestpassError(code, options);
}
