// A rack of appliance hosts answering the Local Management API on loopback addresses.

import { StandinClock } from './clock.js';
import { StandinHost, type StandinFabric, type StandinHostOptions } from './host.js';

export { StandinClock } from './clock.js';
export { LINK_TOKEN_VALIDITY_MS, STANDIN_OPERATIONS, StandinHost, type InjectedFailure, type StandinTimings } from './host.js';

export interface StandinRack {
  clock: StandinClock;
  hosts: StandinHost[];
  stop(): Promise<void>;
}

/** Creates `count` hosts on 127.0.0.(base+i); `start: false` leaves them silent (still booting). */
export async function startStandinRack(
  count: number,
  o: { base?: number; start?: boolean; kubeconfig?: (clusterName: string) => string; host?: Partial<StandinHostOptions> } = {},
): Promise<StandinRack> {
  const clock = new StandinClock();
  const fabric: StandinFabric = { clock, hosts: new Map(), kubeconfig: o.kubeconfig ?? ((name) => `apiVersion: v1\nkind: Config\nclusters: [{name: ${name}, cluster: {server: "https://127.0.0.1:6443"}}]\n`) };
  const hosts: StandinHost[] = [];
  for (let i = 0; i < count; i++) {
    const h = new StandinHost(fabric, { address: `127.0.0.${(o.base ?? 20) + i}`, hostName: `edge-${i + 1}`, ...o.host });
    if (o.start !== false) await h.start();
    hosts.push(h);
  }
  return { clock, hosts, stop: async () => void (await Promise.all(hosts.map((h) => h.stop()))) };
}
