import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { BootUrls } from '../../server/boot/boot-urls.js';
import { MachineTokens } from '../../server/boot/machine-tokens.js';
import { validateConfig, type ResolvedConfig } from '../../server/config/load.js';
import { classify } from '../../server/dhcp/classify.js';
import { FullHandler } from '../../server/dhcp/full-handler.js';
import type { DhcpHandler, Inbound, Outbound } from '../../server/dhcp/handler.js';
import { compileSubnets, LeaseTable } from '../../server/dhcp/lease-table.js';
import { MachineResolver } from '../../server/dhcp/machine-resolver.js';
import { decodePacket, encodePacket } from '../../server/dhcp/packet.js';
import { ProxyHandler } from '../../server/dhcp/proxy-handler.js';
import { normalizeMachineInput } from '../../server/inventory/normalize.js';
import type { Machine } from '../../server/inventory/machine.js';
import { openSqliteStore } from '../../server/store/sqlite/sqlite-store.js';
import type { Store } from '../../server/store/types.js';
import { Timeline } from '../../server/timeline/recorder.js';

export const SERVER_IP = '10.250.0.1';

export interface DhcpHarness {
  cfg: ResolvedConfig;
  store: Store;
  tokens: MachineTokens;
  urls: BootUrls;
  handler: DhcpHandler;
  leases: LeaseTable | null;
  dir: string;
  /** Decodes a raw request, runs it through the handler, and round-trips the reply through the codec. */
  send(raw: Buffer, via?: Inbound['via'], remote?: Inbound['remote']): Promise<Outbound | null>;
  addMachine(input: Record<string, unknown>): Promise<Machine>;
  close(): Promise<void>;
}

export async function dhcpHarness(config: Record<string, unknown>, dir = mkdtempSync(join(tmpdir(), 'rb-dhcp-'))): Promise<DhcpHarness> {
  const r = validateConfig({ advertiseAddress: SERVER_IP, dataDir: dir, ...config }, dir);
  if (!r.ok) throw new Error(JSON.stringify(r.issues));
  const cfg = r.config;
  const store = openSqliteStore(join(dir, 'rackboot.db'));
  const tokens = new MachineTokens(Buffer.alloc(32, 7));
  const urls = new BootUrls(cfg.publicUrl, tokens);
  const timeline = new Timeline(store.events, pino({ level: 'silent' }));
  const resolver = new MachineResolver(store.machines, timeline, cfg.dhcp.unknownMachines, cfg.dhcp.maxDiscovered, pino({ level: 'silent' }));
  const ports = { server: 67, client: 68 };
  let leases: LeaseTable | null = null;
  let handler: DhcpHandler;
  if (cfg.dhcp.mode === 'full') {
    leases = new LeaseTable(store.leases);
    await leases.load();
    handler = new FullHandler({ cfg, resolver, urls, timeline, leases, subnets: compileSubnets(cfg.dhcp.subnets), ports });
  } else {
    handler = new ProxyHandler({ cfg, resolver, urls, timeline, ports });
  }
  return {
    cfg,
    store,
    tokens,
    urls,
    handler,
    leases,
    dir,
    async send(raw, via = 'dhcp', remote = { address: '0.0.0.0', port: 68 }) {
      const d = decodePacket(raw);
      if (!d.ok) throw new Error(d.reason);
      const client = classify(d.packet);
      if (client === null) throw new Error('not a client request');
      const out = await handler.handle({ packet: d.packet, client, via, remote });
      if (out === null) return null;
      // Every reply must survive the wire format.
      const enc = encodePacket(out.packet);
      if (!enc.ok) throw new Error(enc.reason);
      const back = decodePacket(enc.data);
      if (!back.ok) throw new Error(back.reason);
      return { ...out, packet: back.packet };
    },
    async addMachine(input) {
      const n = normalizeMachineInput(input);
      if (!n.ok) throw new Error(JSON.stringify(n.issues));
      return store.machines.create(n.machine);
    },
    async close() {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
