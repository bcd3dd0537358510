// Shared set-up for the Redfish tests: one test PKI per worker, a fixture server per test, and a
// client wired to it with recorded (not real) sleeps so retries and task polls take no time.

import { RedfishClient, type RedfishClientOptions } from '../../redfish/index.js';
import type { RedfishLogger } from '../../redfish/index.js';
import { generateTestPki, type TestPki } from './redfish-certs.js';
import { RedfishFixtureServer, type FixtureServerOptions } from './redfish-fixture-server.js';

let pki: TestPki | undefined;
export function testPki(): TestPki {
  pki ??= generateTestPki();
  return pki;
}

export interface LogLine {
  level: 'debug' | 'info' | 'warn' | 'error';
  msg: string;
}

export function recordingLogger(): RedfishLogger & { lines: LogLine[] } {
  const lines: LogLine[] = [];
  return {
    lines,
    debug: (msg) => lines.push({ level: 'debug', msg }),
    info: (msg) => lines.push({ level: 'info', msg }),
    warn: (msg) => lines.push({ level: 'warn', msg }),
    error: (msg) => lines.push({ level: 'error', msg }),
  };
}

export interface Harness {
  server: RedfishFixtureServer;
  client: RedfishClient;
  /** Every delay the client asked to sleep, in order. */
  sleeps: number[];
  logger: ReturnType<typeof recordingLogger>;
  close(): Promise<void>;
}

/** Starts a fixture server with the CA-signed BMC certificate and a client that trusts the test CA. */
export async function harness(
  server: Omit<FixtureServerOptions, 'tls'> & { tls?: FixtureServerOptions['tls'] },
  client: Partial<RedfishClientOptions> = {},
): Promise<Harness> {
  const p = testPki();
  const srv = await RedfishFixtureServer.start({ tls: { certPem: p.bmc.certPem, keyPem: p.bmc.keyPem }, ...server });
  const sleeps: number[] = [];
  const logger = recordingLogger();
  const c = new RedfishClient({
    baseUrl: srv.url,
    username: server.username ?? 'admin',
    password: server.password ?? 'secret',
    tls: { caBundle: p.ca.certPem },
    timeoutMs: 5000,
    retries: 3,
    retryBaseDelayMs: 100,
    logger,
    sleep: async (ms) => {
      sleeps.push(ms);
    },
    ...client,
  });
  return {
    server: srv,
    client: c,
    sleeps,
    logger,
    close: async () => {
      await c.close();
      await srv.close();
    },
  };
}
