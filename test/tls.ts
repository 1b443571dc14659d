import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generate } from 'selfsigned';

/**
 * A certificate for localhost made on the spot, the one TLS mechanism of the tests: the
 * fake mail servers serve with it (a host process trusts it through NODE_EXTRA_CA_CERTS
 * = caFile), and the local host serves HTTPS with it (LOCAL_TLS_CERT_FILE = caFile,
 * LOCAL_TLS_KEY_FILE = keyFile) for clients that send credentials only over TLS.
 */
export async function localhostCertificate(): Promise<{ key: string; cert: string; caFile: string; keyFile: string }> {
  const pems = await generate([{ name: 'commonName', value: 'localhost' }], {
    keyType: 'ec',
    algorithm: 'sha256',
    extensions: [{ name: 'subjectAltName', altNames: [{ type: 2, value: 'localhost' }, { type: 7, ip: '127.0.0.1' }] }],
  });
  const dir = mkdtempSync(join(tmpdir(), 'guestpass-tls-'));
  const caFile = join(dir, 'ca.pem');
  const keyFile = join(dir, 'key.pem');
  writeFileSync(caFile, pems.cert);
  writeFileSync(keyFile, pems.private);
  return { key: pems.private, cert: pems.cert, caFile, keyFile };
}
