import dns2 from 'dns2';

const { Packet } = dns2;

export interface LoopbackDns {
  /** For DNS_SERVERS: `127.0.0.1:<port>`. */
  server: string;
  /** Publishes (or replaces) the TXT strings at a name. */
  setTxt(name: string, values: string[]): void;
  /** How many questions the server was asked, by name. */
  asked: Map<string, number>;
  close(): Promise<void>;
}

/**
 * A real DNS server on loopback (dns2 over UDP), answering TXT questions from a table the
 * test fills, NXDOMAIN for names it does not know: node:dns's Resolver (c-ares) asks it
 * exactly as it would ask a public resolver.
 */
export async function startLoopbackDns(): Promise<LoopbackDns> {
  const records = new Map<string, string[]>();
  const asked = new Map<string, number>();
  const server = dns2.createUDPServer((request, send) => {
    const response = Packet.createResponseFromRequest(request);
    const [question] = request.questions;
    const name = question!.name.toLowerCase();
    asked.set(name, (asked.get(name) ?? 0) + 1);
    const values = records.get(name);
    if (!values) response.header.rcode = 3; // NXDOMAIN
    else if (question!.type === Packet.TYPE.TXT) {
      for (const value of values) {
        // Packet.Resource.TXT encodes `data`; the typings ask for a toBuffer the encoder does not use.
        response.answers.push({ name: question!.name, type: Packet.TYPE.TXT, class: Packet.CLASS.IN, ttl: 60, data: value } as unknown as (typeof response.answers)[number]);
      }
    }
    void send(response);
  });
  await server.listen(0, '127.0.0.1');
  const { port } = server.address();
  return {
    server: `127.0.0.1:${port}`,
    setTxt: (name, values) => records.set(name.toLowerCase(), values),
    asked,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
