import type { Transporter } from 'nodemailer';
import type SMTPTransport from 'nodemailer/lib/smtp-transport/index.js';
import type { EmailConfig } from '../config.js';
import { loadOnFirstUse, MailRefused, messageIdFor, TRANSACTIONAL_HEADERS, type Mailer } from './message.js';

type SmtpSettings = Extract<EmailConfig, { transport: 'smtp' }>;

/**
 * Any SMTP server through nodemailer: `smtps://` is TLS from the first byte (465),
 * `smtp://` upgrades with STARTTLS and, with SMTP_REQUIRE_TLS (the default), refuses
 * a server that does not offer it rather than send the code in the clear. Credentials
 * come from the URL's user and password.
 */
async function loadSmtp(email: SmtpSettings): Promise<Transporter> {
  const { createTransport } = await import('../lazy/smtp.js');
  const timeout = email.timeoutSeconds * 1000;
  const url = new URL(email.url);
  const secure = url.protocol === 'smtps:';
  const options: SMTPTransport.Options = {
    host: url.hostname.replace(/^\[(.*)\]$/, '$1'),
    port: Number(url.port) || (secure ? 465 : 587),
    secure,
    auth: url.username ? { user: decodeURIComponent(url.username), pass: decodeURIComponent(url.password) } : undefined,
    requireTLS: email.requireTls,
    connectionTimeout: timeout,
    greetingTimeout: timeout,
    socketTimeout: timeout,
  };
  // Not pooled (SMTPTransport, not SMTPPool): one connection per mail, as instances come and go.
  return createTransport(options);
}

export function smtpMailer(email: SmtpSettings, now: () => number): Mailer {
  const transport = loadOnFirstUse(() => loadSmtp(email));
  return {
    provider: 'smtp',
    async send(mail) {
      let info;
      try {
        info = await (await transport()).sendMail({
          from: { name: email.fromName, address: email.from },
          to: mail.to,
          subject: mail.subject,
          text: mail.text,
          html: mail.html,
          date: new Date(now()),
          messageId: messageIdFor(mail, email.from),
          headers: { ...TRANSACTIONAL_HEADERS },
        });
      } catch (error) {
        // A permanent SMTP reply (5xx to MAIL, RCPT or DATA) is the server's refusal; a
        // transient one (4xx, RFC 5321 §4.2.1), a connection or a TLS failure is an outage, retried.
        const { responseCode, response } = error as { responseCode?: number; response?: string };
        if (typeof responseCode === 'number' && responseCode >= 500) throw new MailRefused(`SMTP server answered ${response ?? responseCode}`);
        throw error;
      }
      if (info.rejected.length > 0) throw new MailRefused(`SMTP server refused the recipient: ${info.response}`);
      return { providerMessageId: info.messageId };
    },
  };
}
