import { createHash, createHmac, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { simpleParser, type ParsedMail } from 'mailparser';
import { SMTPServer } from 'smtp-server';
import { localhostCertificate } from './tls.js';

/*
 * Local servers that speak the real protocols of the mail providers, for the provider
 * tests: the ACS Email REST API (with its HMAC-SHA256 request signing checked) and an
 * SMTP server (smtp-server) with STARTTLS and AUTH whose received messages are parsed
 * by mailparser.
 */

export interface AcsSendRequest {
  operationId: string;
  apiVersion: string;
  body: {
    senderAddress: string;
    recipients: { to: { address: string }[] };
    content: { subject: string; plainText?: string; html?: string };
    headers?: Record<string, string>;
    userEngagementTrackingDisabled?: boolean;
  };
}

export interface FakeAcs {
  endpoint: string;
  /** The server's self-signed certificate, for the host's NODE_EXTRA_CA_CERTS: ACS is https only, and so is this. */
  caFile: string;
  connectionString: string;
  accessKey: string;
  sends: AcsSendRequest[];
  /** Requests whose HMAC signature did not verify (answered 401, as ACS does). */
  rejected: { method: string; url: string; reason: string }[];
  statusPolls: string[];
  /** What the status operation answers for the next mails: Succeeded, or Failed with a message. */
  finishWith(outcome: 'Succeeded' | { failed: string }): void;
  close(): Promise<void>;
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
  });
}

/**
 * Checks ACS's access-key authentication as the service does, and as
 * @azure/communication-common's createCommunicationAccessKeyCredentialPolicy signs:
 * x-ms-content-sha256 is the base64 SHA-256 of the body; the string to sign is
 * `VERB\n<path>?<query>\n<x-ms-date>;<host>;<x-ms-content-sha256>`; Authorization is
 * `HMAC-SHA256 SignedHeaders=x-ms-date;host;x-ms-content-sha256&Signature=<base64 HMAC
 * under the base64-decoded access key>`.
 */
function verifyAcsSignature(req: IncomingMessage, body: string, accessKey: string): string | undefined {
  const date = req.headers['x-ms-date'];
  const contentHash = req.headers['x-ms-content-sha256'];
  const authorization = req.headers.authorization ?? '';
  if (typeof date !== 'string' || typeof contentHash !== 'string') return 'x-ms-date or x-ms-content-sha256 missing';
  if (Math.abs(Date.parse(date) - Date.now()) > 15 * 60_000) return 'x-ms-date too far from now';
  if (createHash('sha256').update(body).digest('base64') !== contentHash) return 'x-ms-content-sha256 does not match the body';
  const match = /^HMAC-SHA256 SignedHeaders=x-ms-date;host;x-ms-content-sha256&Signature=(.+)$/.exec(authorization);
  if (!match) return 'Authorization is not HMAC-SHA256 with the expected signed headers';
  const stringToSign = `${req.method}\n${req.url}\n${date};${req.headers.host};${contentHash}`;
  const expected = createHmac('sha256', Buffer.from(accessKey, 'base64')).update(stringToSign).digest();
  const given = Buffer.from(match[1]!, 'base64');
  return given.length === expected.length && timingSafeEqual(given, expected) ? undefined : 'signature does not verify';
}

/** The ACS Email data plane: POST /emails:send (202 + Operation-Location) and GET /emails/operations/{id}. */
export async function startFakeAcs(): Promise<FakeAcs> {
  const tls = await localhostCertificate();
  const accessKey = randomBytes(32).toString('base64');
  const sends: AcsSendRequest[] = [];
  const rejected: FakeAcs['rejected'] = [];
  const statusPolls: string[] = [];
  let outcome: 'Succeeded' | { failed: string } = 'Succeeded';
  const outcomes = new Map<string, 'Succeeded' | { failed: string }>();
  let base = '';
  const server: Server = createServer({ key: tls.key, cert: tls.cert }, async (req, res) => {
    const body = await readBody(req);
    const url = new URL(req.url!, base);
    const problem = verifyAcsSignature(req, body, accessKey);
    const answer = (status: number, json: unknown, headers: Record<string, string> = {}) => {
      res.writeHead(status, { 'content-type': 'application/json', ...headers });
      res.end(JSON.stringify(json));
    };
    if (problem) {
      rejected.push({ method: req.method!, url: req.url!, reason: problem });
      answer(401, { error: { code: 'Denied', message: `Denied by the policy: ${problem}` } });
      return;
    }
    const apiVersion = url.searchParams.get('api-version') ?? '';
    if (req.method === 'POST' && url.pathname === '/emails:send') {
      if (!apiVersion) return answer(400, { error: { code: 'MissingApiVersionParameter', message: 'api-version is required' } });
      const operationId = (req.headers['operation-id'] as string | undefined) ?? randomUUID();
      sends.push({ operationId, apiVersion, body: JSON.parse(body) as AcsSendRequest['body'] });
      outcomes.set(operationId, outcome);
      answer(202, { id: operationId, status: 'Running' }, {
        'operation-location': `${base}/emails/operations/${operationId}?api-version=${apiVersion}`,
        'operation-id': operationId,
      });
      return;
    }
    const status = /^\/emails\/operations\/([^/]+)$/.exec(url.pathname);
    if (req.method === 'GET' && status) {
      const id = decodeURIComponent(status[1]!);
      statusPolls.push(id);
      const result = outcomes.get(id);
      if (!result) return answer(404, { error: { code: 'NotFound', message: 'no such operation' } });
      if (result === 'Succeeded') return answer(200, { id, status: 'Succeeded' });
      return answer(200, { id, status: 'Failed', error: { code: 'EmailDroppedAllRecipientsSuppressed', message: result.failed } });
    }
    answer(404, { error: { code: 'NotFound', message: 'no such route' } });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  base = `https://localhost:${(server.address() as AddressInfo).port}`;
  return {
    endpoint: base,
    caFile: tls.caFile,
    connectionString: `endpoint=${base}/;accesskey=${accessKey}`,
    accessKey,
    sends,
    rejected,
    statusPolls,
    finishWith(next) {
      outcome = next;
    },
    close: () => new Promise<void>((r) => {
      server.closeAllConnections();
      server.close(() => r());
    }),
  };
}

export interface ReceivedSmtpMail {
  envelope: { from: string; to: string[] };
  user?: string;
  secure: boolean;
  parsed: ParsedMail;
}

export interface FakeSmtp {
  port: number;
  /** A PEM file with the server's self-signed certificate, for the host's NODE_EXTRA_CA_CERTS. */
  caFile: string;
  received: ReceivedSmtpMail[];
  /** RCPT TO answers 550 for these addresses. */
  refuse: Set<string>;
  close(): Promise<void>;
}

/**
 * An SMTP submission server on loopback: STARTTLS with a certificate made here for
 * localhost, AUTH PLAIN/LOGIN with one user, and (with `startTls: false`) one that
 * never offers STARTTLS, to prove guestpass will not send in the clear.
 */
export async function startFakeSmtp(options: { user: string; password: string; startTls?: boolean }): Promise<FakeSmtp> {
  const { key, cert, caFile } = await localhostCertificate();
  const received: ReceivedSmtpMail[] = [];
  const refuse = new Set<string>();
  const startTls = options.startTls ?? true;
  const server = new SMTPServer({
    key,
    cert,
    disabledCommands: startTls ? [] : ['STARTTLS'],
    authMethods: ['PLAIN', 'LOGIN'],
    // Credentials only over TLS, as a real submission server requires.
    allowInsecureAuth: !startTls,
    logger: false,
    onAuth(auth, _session, callback) {
      if (auth.username === options.user && auth.password === options.password) return callback(null, { user: auth.username });
      callback(new Error('535 5.7.8 Authentication credentials invalid'));
    },
    onRcptTo(address, _session, callback) {
      if (refuse.has(address.address)) {
        const error = new Error('Mailbox unavailable: user unknown') as Error & { responseCode: number };
        error.responseCode = 550;
        return callback(error);
      }
      callback();
    },
    onData(stream, session, callback) {
      simpleParser(stream)
        .then((parsed) => {
          received.push({
            envelope: {
              from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
              to: session.envelope.rcptTo.map((rcpt) => rcpt.address),
            },
            user: session.user as string | undefined,
            secure: session.secure,
            parsed,
          });
          callback();
        })
        .catch(callback);
    },
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.server.address() as AddressInfo).port;
  return {
    port,
    caFile,
    received,
    refuse,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
