import { RestError } from '@azure/data-tables';
import { ConfigError, type Config } from '../config.js';

/** Where the Tables clients send their requests, for a message (never the key). */
export function tableServiceUrl(storage: Config['storage']): string {
  if (storage.endpoint) return storage.endpoint;
  if (/UseDevelopmentStorage=true/i.test(storage.connectionString)) return 'http://127.0.0.1:10002/devstoreaccount1';
  const endpoint = /TableEndpoint=([^;]+)/i.exec(storage.connectionString)?.[1];
  if (endpoint) return endpoint;
  const account = /AccountName=([^;]+)/i.exec(storage.connectionString)?.[1];
  return account ? `https://${account}.table.core.windows.net` : 'the account of TABLES_CONNECTION_STRING';
}

// A storage that accepts but does not answer in time (ETIMEDOUT) is not among them: it may
// be slow or briefly down rather than misconfigured, so the host serves and requests
// answer 503 storage_unavailable until it answers.
const UNREACHABLE = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH']);

/**
 * A first failure to reach Table Storage, said as one line naming the setting and what
 * to do: a key the service refuses, a program that is not a Table service on its port,
 * or nothing answering at all. Undefined for anything else (which keeps its own error).
 */
export function explainStorageFailure(error: unknown, storage: Config['storage']): ConfigError | undefined {
  if (!(error instanceof RestError)) return undefined;
  const setting = storage.endpoint ? 'TABLES_ENDPOINT' : 'TABLES_CONNECTION_STRING';
  const url = tableServiceUrl(storage);
  const code = error.code ?? '';
  if (UNREACHABLE.has(code)) {
    return new ConfigError(setting, `points at ${url}, where nothing answers (${code}): start Azurite there (npm start does, for a 127.0.0.1 or localhost endpoint) or correct the endpoint`);
  }
  const status = error.statusCode;
  // Every answer of the Table service (Azure's or Azurite's) carries x-ms-request-id.
  const fromTableService = Boolean(error.response?.headers.get('x-ms-request-id'));
  if (code.startsWith('HPE_') || code === 'ECONNRESET' || (status !== undefined && !fromTableService)) {
    const port = portOf(url);
    return new ConfigError(
      setting,
      `points at ${url}, where another program answers, not a Table service (${status ? `HTTP ${status}` : code}): stop the program on port ${port}, or run Azurite on another port and point ${setting} there (README: "Azurite on another port")`,
    );
  }
  if (status === 401 || status === 403) {
    return storage.endpoint
      ? new ConfigError(setting, `points at a Table service (${url}) that refuses the app's identity (HTTP ${status}): grant it Storage Table Data Contributor on the storage account`)
      : new ConfigError(setting, `holds an account key the Table service at ${url} refuses (HTTP ${status}): use that account's own key (Azurite's is the well-known devstoreaccount1 key; UseDevelopmentStorage=true selects it)`);
  }
  return undefined;
}

function portOf(url: string): string {
  try {
    const parsed = new URL(url);
    return parsed.port || (parsed.protocol === 'https:' ? '443' : '80');
  } catch {
    return '?';
  }
}
