import { once } from 'node:events';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { AddressInfo } from 'node:net';

export interface Published {
  method: string;
  url: string;
  headers: Record<string, string>;
  body: string;
  answered: number;
}

export interface CloudEventSent {
  specversion: string;
  id: string;
  source: string;
  type: string;
  subject?: string;
  time: string;
  datacontenttype: string;
  data: Record<string, unknown>;
  traceparent?: string;
}

/**
 * A local Event Grid topic, over TLS with a certificate made for localhost (a host
 * trusts it through NODE_EXTRA_CA_CERTS): it speaks the publish API the SDK calls (POST
 * /api/events?api-version=2018-01-01 with a JSON array of CloudEvents,
 * application/cloudevents-batch+json) and answers as Event Grid does, 200 with an empty
 * body; or 500 while `failuresLeft` lasts. It checks the credential as the service
 * would: the `aeg-sas-key` header, or an `Authorization: Bearer` token.
 */
export async function startTopic(options: { key?: string; token?: string; tls: { key: string; cert: string } }) {
  const state = { published: [] as Published[], failuresLeft: 0 };
  const handler = (request: IncomingMessage, response: ServerResponse) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const headers = Object.fromEntries(Object.entries(request.headers).map(([name, value]) => [name, String(value)]));
      const authorised = options.key ? headers['aeg-sas-key'] === options.key : headers.authorization === `Bearer ${options.token}`;
      const status = !authorised ? 401 : request.method !== 'POST' || request.url !== '/api/events?api-version=2018-01-01' ? 404 : state.failuresLeft > 0 ? 500 : 200;
      if (status === 500) state.failuresLeft -= 1;
      state.published.push({ method: request.method ?? '', url: request.url ?? '', headers, body: Buffer.concat(chunks).toString('utf8'), answered: status });
      response.writeHead(status, { 'content-length': '0' }).end();
    });
  };
  const server = createTlsServer(options.tls, handler);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return Object.assign(state, {
    endpoint: `https://localhost:${port}/api/events`,
    /** The CloudEvents the topic took (answered 200), in the order they came. */
    events: () => state.published.filter((p) => p.answered === 200).flatMap((p) => JSON.parse(p.body) as CloudEventSent[]),
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  });
}

