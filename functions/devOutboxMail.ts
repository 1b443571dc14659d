import { getConfig } from '../lib/config.js';
import { findOutboxMail } from '../lib/mail/outbox.js';
import { runtime } from '../lib/runtime.js';
import { guid } from '../lib/schemas.js';
import type { HttpResponseInit } from '@azure/functions';
import { GuestpassError } from '../lib/errors.js';
import { errorResponse, registerHttp } from './http.js';

/**
 * Development only, like the outbox: one outbox mail's HTML part as a page, the way a
 * mail app shows it (docs/code-mail.png is taken from here). The mail may load https
 * images and use inline styles, nothing else: no script, no form, no frame.
 */
export default getConfig().email.transport === 'outbox'
  ? registerHttp('devOutboxMail', {
      route: 'dev/outbox/{id}',
      methods: ['GET'],
      authLevel: 'anonymous',
      handler: async (request): Promise<HttpResponseInit> => {
        const id = guid.safeParse(request.params.id);
        const rt = await runtime();
        const mail = id.success ? await findOutboxMail(rt.tables, id.data, rt.now()) : undefined;
        if (!mail) return errorResponse(new GuestpassError('outbox_mail_not_found'));
        return {
          status: 200,
          headers: {
            'Content-Type': 'text/html; charset=utf-8',
            'Content-Security-Policy': "default-src 'none'; img-src https: data:; style-src 'unsafe-inline'; frame-ancestors 'none'",
            'X-Content-Type-Options': 'nosniff',
            'Cache-Control': 'no-store',
          },
          body: mail.html,
        };
      },
    })
  : undefined;
