// Helpers shared by the MAAS client tests: fixtures from test/fixtures/maas and a client wired to a
// stand-in with a recording sleep (retries never wait for real).

import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { MaasClient, type MaasClientOptions } from '../../../maas/index.js';
import type { MaasStandin } from './index.js';

export function maasFixture<T = unknown>(name: string): T {
  return JSON.parse(readFileSync(fileURLToPath(new URL(`../../fixtures/maas/${name}`, import.meta.url)), 'utf8')) as T;
}

export interface ErrorFixture {
  request: { method: string; path: string };
  status: number;
  headers: Record<string, string>;
  body: string | Record<string, string[]>;
  source: string;
  license: string;
}

export function errorFixture(id: string): ErrorFixture {
  const all = maasFixture<Record<string, ErrorFixture>>('errors.json');
  const e = all[id];
  if (e === undefined) throw new Error(`no error fixture ${id}`);
  return e;
}

export interface TestClient {
  client: MaasClient;
  /** Every delay the client asked to sleep, in order. */
  sleeps: number[];
}

export function clientFor(s: MaasStandin, opts: Partial<MaasClientOptions> & { admin?: boolean; onSleep?: (ms: number) => Promise<void> | void } = {}): TestClient {
  const sleeps: number[] = [];
  const { admin, onSleep, ...rest } = opts;
  const client = new MaasClient({
    baseUrl: s.url,
    apiKey: admin === false ? s.userKey : s.adminKey,
    timeoutMs: 10_000,
    // MAAS and its client share wall time: when a test advances the stand-in's clock (an hour of
    // deployment), the client's OAuth timestamps move with it, as they would on NTP-synced hosts.
    now: () => s.clock.now(),
    ...rest,
    sleep: async (ms) => {
      sleeps.push(ms);
      await onSleep?.(ms);
    },
  });
  return { client, sleeps };
}
