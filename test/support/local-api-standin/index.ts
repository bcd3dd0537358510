// A rack of appliance hosts answering the Local Management API on loopback addresses.

import { StandinClock } from './clock.js';
import { StandinHost, type StandinFabric, type StandinHostOptions } from './host.js';

export { StandinClock } from './clock.js';
export { LINK_TOKEN_VALIDITY_MS, STANDIN_OPERATIONS, StandinHost, type InjectedFailure, type StandinTimings } from './host.js';

export interface StandinRack {
  clock: StandinClock;
  /** The Local API port every host listens on. */
  port: number;
  hosts: StandinHost[];
  stop(): Promise<void>;
}

/**
 * Creates `count` hosts on 127.0.0.(base+i), all on one port as real hosts all use 5080;
 * `start: false` leaves them silent (still booting) with the port reserved in `port`.
 */
export async function startStandinRack(
  count: number,
  o: {
    base?: number;
    start?: boolean;
    kubeconfig?: (clusterName: string) => string;
    onClusterRunning?: StandinFabric['onClusterRunning'];
    host?: Partial<StandinHostOptions>;
  } = {},
): Promise<StandinRack> {
  const clock = new StandinClock();
  const fabric: StandinFabric = {
    clock,
    hosts: new Map(),
    kubeconfig: o.kubeconfig ?? ((name) => `apiVersion: v1\nkind: Config\nclusters: [{name: ${name}, cluster: {server: "https://127.0.0.1:6443"}}]\n`),
    ...(o.onClusterRunning !== undefined ? { onClusterRunning: o.onClusterRunning } : {}),
  };
  const hosts: StandinHost[] = [];
  for (let i = 0; i < count; i++) hosts.push(new StandinHost(fabric, { address: `127.0.0.${(o.base ?? 20) + i}`, hostName: `edge-${i + 1}`, ...o.host }));
  // One port for every host: take a free one on the first address, then bind the rest to it.
  for (let attempt = 0; ; attempt++) {
    try {
      await hosts[0]!.start(0);
      for (const h of hosts.slice(1)) await h.start(hosts[0]!.port);
      break;
    } catch (e) {
      await Promise.all(hosts.map((h) => h.stop()));
      if ((e as NodeJS.ErrnoException).code !== 'EADDRINUSE' || attempt >= 5) throw e;
    }
  }
  if (o.start === false) await Promise.all(hosts.map((h) => h.stop()));
  return { clock, hosts, port: hosts[0]!.port, stop: async () => void (await Promise.all(hosts.map((h) => h.stop()))) };
}
