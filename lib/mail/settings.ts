import * as z from 'zod';
import { lazySchema } from '../lazySchema.js';
import { emailAddress } from '../guests/email.js';

/**
 * A tenant's own mail settings: branding, template overrides per language, whether
 * the code goes in the subject, and an optional daily cap of its own. Validated when
 * saved (PATCH /api/manage/tenants/{tenant} `{mail}`), and every value is escaped again
 * when a mail is rendered, so a saved value can never become markup.
 */
export const MAIL_LANGUAGES = ['en', 'sv', 'de'] as const;
export type MailLanguage = (typeof MAIL_LANGUAGES)[number];

/** The wording keys of a mail and the placeholders each may use. */
export const TEXT_PLACEHOLDERS = {
  codeSubject: ['tenant', 'code'],
  codeSubjectWithoutCode: ['tenant'],
  codeIntro: ['tenant'],
  codeValidity: ['minutes'],
  codeIgnore: ['tenant'],
  invitationSubject: ['tenant'],
  greetingNamed: ['name', 'tenant'],
  greeting: ['tenant'],
  invitationBody: ['tenant'],
  invitationAccept: [],
  footerAutomated: ['tenant'],
  footerSupport: ['support'],
} as const satisfies Record<string, readonly string[]>;
export type MailTextKey = keyof typeof TEXT_PLACEHOLDERS;
export type MailTexts = Record<MailTextKey, string>;

/** Placeholders a text must keep: a subject "with the code" that drops {code} would not be one. */
const REQUIRED_PLACEHOLDERS: Partial<Record<MailTextKey, string[]>> = { codeSubject: ['code'], footerSupport: ['support'] };

function templateText(key: MailTextKey) {
  const allowed: readonly string[] = TEXT_PLACEHOLDERS[key];
  return z
    .string()
    .trim()
    .min(1)
    .max(key.endsWith('Subject') || key === 'codeSubjectWithoutCode' ? 200 : 1000)
    .superRefine((value, ctx) => {
      if (/[\u0000-\u0009\u000b-\u001f\u007f]/.test(value)) ctx.addIssue({ code: 'custom', message: 'must not hold control characters' });
      if (key.toLowerCase().includes('subject') && /\n/.test(value)) ctx.addIssue({ code: 'custom', message: 'a subject is one line' });
      for (const [, name] of value.matchAll(/\{(\w*)\}/g)) {
        if (!allowed.includes(name!)) {
          ctx.addIssue({ code: 'custom', message: `{${name}} is not a placeholder of ${key}; it may use ${allowed.map((p) => `{${p}}`).join(', ') || 'none'}` });
        }
      }
      for (const name of REQUIRED_PLACEHOLDERS[key] ?? []) {
        if (!value.includes(`{${name}}`)) ctx.addIssue({ code: 'custom', message: `must contain {${name}}` });
      }
    });
}

export const mailTextsOverride = lazySchema(() => z.strictObject(
  Object.fromEntries((Object.keys(TEXT_PLACEHOLDERS) as MailTextKey[]).map((key) => [key, templateText(key).optional()])) as {
    [K in MailTextKey]: z.ZodOptional<ReturnType<typeof templateText>>;
  },
));

const httpsUrl = lazySchema(() => z
  .string()
  .trim()
  .max(2000)
  .refine((value) => {
    try {
      const url = new URL(value);
      return url.protocol === 'https:' && !url.username && !url.password;
    } catch {
      return false;
    }
  }, 'must be an https URL'));

export const mailBranding = lazySchema(() => z.strictObject({
  /** The name the mails show instead of the tenant's displayName. */
  displayName: z.string().trim().min(1).max(256).optional(),
  /** An image loaded by the recipient's mail app: https only. */
  logoUrl: httpsUrl.optional(),
  accentColor: z
    .string()
    .regex(/^#[0-9a-fA-F]{6}$/, 'must be a colour such as #0f6cbd')
    .transform((value) => value.toLowerCase())
    .optional(),
  /** Where a guest asks for help: an email address or an https URL. */
  supportContact: z.union([emailAddress, httpsUrl], { error: 'must be an email address or an https URL' }).optional(),
}));

export const tenantMailSettings = lazySchema(() => z.strictObject({
  /** The code in the subject, so phones and mail apps offer it (on unless turned off). */
  codeInSubject: z.boolean().optional(),
  branding: mailBranding.optional(),
  templates: z.strictObject({ en: mailTextsOverride.optional(), sv: mailTextsOverride.optional(), de: mailTextsOverride.optional() }).optional(),
  /** This tenant's mails per UTC day, instead of MAIL_DAILY_CAP_PER_TENANT (0: no cap). */
  dailyCap: z.number().int().min(0).max(10_000_000).optional(),
}));
export type TenantMailSettings = z.infer<typeof tenantMailSettings>;

export const mailPreviewBody = lazySchema(() => z.strictObject({
  kind: z.enum(['code', 'invitation']),
  locale: z.string().trim().max(35).optional(),
  /** Unsaved settings to preview instead of the tenant's own. */
  mail: tenantMailSettings.optional(),
}));
export type MailPreviewInput = z.infer<typeof mailPreviewBody>;

export const mailPreviewResponse = lazySchema(() => z.object({ subject: z.string(), text: z.string(), html: z.string() }));
