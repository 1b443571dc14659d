import { createServer, type Server, type ServerResponse } from 'node:http';

/**
 * A local HTTP server that answers like Microsoft's userrealm endpoint
 * (GET /common/userrealm/<address>?api-version=2.1&checkForMicrosoftAccount=true),
 * with the fields guestpass reads and the ones around them in real answers.
 */
export type RealmBehaviour = 'Managed' | 'Federated' | 'MicrosoftAccount' | 'Unknown' | 'Throttled' | 'hang' | 'notJson' | 500;

export interface RecordedRealmRequest {
  address: string;
  query: Record<string, string>;
}

export interface FakeUserRealm {
  /** The REALM_DISCOVERY_URL to configure. */
  url: string;
  requests: RecordedRealmRequest[];
  /** How the server answers for one address (every other address: Unknown, no Microsoft account). */
  answer(address: string, behaviour: RealmBehaviour): void;
  close(): Promise<void>;
}

function realmBody(address: string, behaviour: RealmBehaviour): Record<string, unknown> {
  const domain = address.slice(address.lastIndexOf('@') + 1);
  const common = { Login: address, DomainName: domain, cloud_instance_name: 'microsoftonline.com', cloud_audience_urn: 'urn:federation:MicrosoftOnline' };
  switch (behaviour) {
    case 'Managed':
      return { NameSpaceType: 'Managed', ...common, FederationBrandName: 'Fabrikam', TenantBrandingInfo: null };
    case 'Federated':
      return {
        NameSpaceType: 'Federated',
        federation_protocol: 'WSTrust',
        ...common,
        AuthURL: `https://sts.${domain}/adfs/ls/?username=${encodeURIComponent(address)}&wa=wsignin1.0`,
        FederationBrandName: 'Fabrikam',
      };
    case 'MicrosoftAccount':
      return { NameSpaceType: 'Unknown', ...common, MicrosoftAccount: 0, IsMicrosoftAccountSet: true };
    case 'Throttled':
      return { NameSpaceType: 'Unknown', ...common, MicrosoftAccount: 2, IsMicrosoftAccountSet: true };
    default:
      return { NameSpaceType: 'Unknown', ...common, MicrosoftAccount: 1, IsMicrosoftAccountSet: true };
  }
}

export async function startFakeUserRealm(): Promise<FakeUserRealm> {
  const behaviours = new Map<string, RealmBehaviour>();
  const requests: RecordedRealmRequest[] = [];
  const hanging = new Set<ServerResponse>();
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const prefix = '/common/userrealm/';
    if (req.method !== 'GET' || !url.pathname.startsWith(prefix)) {
      res.writeHead(404).end();
      return;
    }
    const address = decodeURIComponent(url.pathname.slice(prefix.length));
    requests.push({ address, query: Object.fromEntries(url.searchParams) });
    const behaviour = behaviours.get(address) ?? 'Unknown';
    if (behaviour === 'hang') {
      hanging.add(res);
      return;
    }
    if (behaviour === 500) {
      res.writeHead(500, { 'content-type': 'application/json' }).end('{"error":"simulated"}');
      return;
    }
    if (behaviour === 'notJson') {
      res.writeHead(200, { 'content-type': 'text/html' }).end('<html>Sign in</html>');
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json; charset=utf-8' }).end(JSON.stringify(realmBody(address, behaviour)));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}/common/userrealm/`,
    requests,
    answer(address, behaviour) {
      behaviours.set(address, behaviour);
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const res of hanging) res.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
