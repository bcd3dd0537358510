// DHCP: DORA exchanges per second with perfdhcp against rackboot (full mode, SQLite leases), dnsmasq (lease
// file on disk) and Kea (memfile persisted to CSV). perfdhcp always acts as a relay: it binds CLIENT_IP:67 and
// sets giaddr, so every server answers giaddr:67, across the veth. For each rung of the rate ladder every
// server is started fresh (empty lease store), warmed up for a second at a low rate, then measured.

import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { CLIENT_IP, PREFIX_LEN, SERVER_IF, SERVER_IP, type BenchNet } from './lib/netns.js';
import { highestPassingRate, parsePerfdhcp, type PerfdhcpReport } from './lib/perfdhcp.js';
import { run, startBackground, waitFor, type BgProcess } from './lib/procs.js';
import { startRackboot, tail } from './lib/rackboot.js';
import { loadAverage } from './lib/system.js';
import { fmt, type Table } from './lib/table.js';

export interface DhcpOptions {
  rates: number[];
  seconds: number;
  clients: number;
  warmupSeconds: number;
}

export interface DhcpRung {
  server: string;
  target: number;
  report: PerfdhcpReport | null;
  error: string | null;
  leasesOnDisk: number | null;
  load: string;
  command: string;
}

const POOL = { start: '10.250.1.1', end: '10.250.200.254' };
const LEASE_SECONDS = 3600;

interface Started {
  stop(): Promise<void>;
  /** Leases in the server's persistent store after it stopped. */
  leasesOnDisk(): number | null;
}

interface ServerDef {
  name: string;
  start(net: BenchNet, dir: string): Promise<Started>;
}

async function waitUdpPort(net: BenchNet, proc: BgProcess, port: number): Promise<void> {
  const ss = net.exec(net.server, 'ss', ['-Hlun', `sport = :${port}`]);
  await waitFor(
    `${proc.name} to bind UDP ${port}`,
    async () => {
      if (!proc.running()) throw new Error(`${proc.name} exited during start-up; see ${proc.logFile}:\n${tail(proc.logFile)}`);
      return (await run(ss.command, ss.args, { timeoutMs: 5000 })).stdout.trim().length > 0;
    },
    15_000,
  );
}

const rackboot: ServerDef = {
  name: 'rackboot',
  async start(net, dir) {
    const rb = await startRackboot(
      net,
      dir,
      {
        advertiseAddress: SERVER_IP,
        http: { listen: '127.0.0.1', port: 8080 },
        tftp: { enabled: false },
        dhcp: {
          mode: 'full',
          listen: '0.0.0.0',
          port: 67,
          subnets: [{ cidr: `10.250.0.0/${PREFIX_LEN}`, gateway: SERVER_IP, dns: [SERVER_IP], leaseSeconds: LEASE_SECONDS, pool: POOL }],
        },
      },
      ['HTTP', 'DHCP'],
    );
    return {
      stop: () => rb.proc.stop(),
      leasesOnDisk: () => {
        const db = new Database(join(rb.dataDir, 'rackboot.db'), { readonly: true, fileMustExist: true });
        try {
          return (db.prepare("SELECT count(*) AS n FROM leases WHERE state = 'bound'").get() as { n: number }).n;
        } finally {
          db.close();
        }
      },
    };
  },
};

const dnsmasq: ServerDef = {
  name: 'dnsmasq',
  async start(net, dir) {
    mkdirSync(dir, { recursive: true });
    const leaseFile = join(dir, 'dnsmasq.leases');
    writeFileSync(leaseFile, '');
    const x = net.exec(net.server, 'dnsmasq', [
      '--keep-in-foreground',
      '--conf-file=/dev/null',
      '--port=0',
      '--user=root',
      '--group=root',
      `--pid-file=${join(dir, 'dnsmasq.pid')}`,
      `--interface=${SERVER_IF}`,
      '--except-interface=lo',
      '--bind-interfaces',
      `--dhcp-range=${POOL.start},${POOL.end},255.255.0.0,${LEASE_SECONDS}s`,
      '--dhcp-lease-max=200000',
      `--dhcp-leasefile=${leaseFile}`,
      '--dhcp-authoritative',
      '--no-ping',
      '--quiet-dhcp',
      `--dhcp-option=3,${SERVER_IP}`,
      `--dhcp-option=6,${SERVER_IP}`,
    ]);
    const proc = await startBackground('dnsmasq', x.command, x.args, { logFile: join(dir, 'dnsmasq.log'), cwd: dir });
    await waitUdpPort(net, proc, 67);
    return {
      stop: () => proc.stop(),
      leasesOnDisk: () => readFileSync(leaseFile, 'utf8').split('\n').filter((l) => l.trim() !== '').length,
    };
  },
};

const kea: ServerDef = {
  name: 'Kea',
  async start(net, dir) {
    mkdirSync(dir, { recursive: true });
    const leaseFile = join(dir, 'kea-leases4.csv');
    const cfg = {
      Dhcp4: {
        'interfaces-config': { interfaces: [SERVER_IF], 'dhcp-socket-type': 'udp' },
        'lease-database': { type: 'memfile', persist: true, name: leaseFile, 'lfc-interval': 0 },
        'valid-lifetime': LEASE_SECONDS,
        authoritative: true,
        'subnet4': [
          {
            id: 1,
            subnet: `10.250.0.0/${PREFIX_LEN}`,
            pools: [{ pool: `${POOL.start} - ${POOL.end}` }],
            'option-data': [
              { name: 'routers', data: SERVER_IP },
              { name: 'domain-name-servers', data: SERVER_IP },
            ],
          },
        ],
        // Kea logs every allocation at INFO; WARN keeps logging out of the measurement, like dnsmasq's --quiet-dhcp.
        loggers: [{ name: 'kea-dhcp4', severity: 'WARN', output_options: [{ output: join(dir, 'kea.log') }] }],
      },
    };
    const cfgFile = join(dir, 'kea-dhcp4.json');
    writeFileSync(cfgFile, JSON.stringify(cfg, null, 2));
    const x = net.exec(net.server, 'kea-dhcp4', ['-c', cfgFile]);
    // Pid and lock files go to the run directory, not /run/kea.
    const env = { ...process.env, KEA_PIDFILE_DIR: dir, KEA_LOCKFILE_DIR: dir };
    const proc = await startBackground('kea-dhcp4', x.command, x.args, { logFile: join(dir, 'kea-stdout.log'), cwd: dir, env });
    await waitUdpPort(net, proc, 67);
    return {
      stop: () => proc.stop(),
      leasesOnDisk: () => {
        if (!existsSync(leaseFile)) return 0;
        // The memfile is an append-only journal until LFC runs: count distinct addresses.
        const lines = readFileSync(leaseFile, 'utf8').split('\n').slice(1);
        return new Set(lines.filter((l) => l.trim() !== '').map((l) => l.split(',')[0])).size;
      },
    };
  },
};

export const DHCP_SERVERS: readonly ServerDef[] = [rackboot, dnsmasq, kea];

function perfdhcpArgs(rate: number, seconds: number, clients: number, waitUs: number): string[] {
  return ['-4', '-l', CLIENT_IP, '-R', String(clients), '-r', String(rate), '-p', String(seconds), '-d', '2', '-W', String(waitUs), SERVER_IP];
}

async function perfdhcp(net: BenchNet, args: string[], seconds: number): Promise<PerfdhcpReport> {
  const x = net.exec(net.client, 'perfdhcp', args);
  const r = await run(x.command, x.args, { timeoutMs: (seconds + 30) * 1000 });
  if (r.timedOut) throw new Error(`perfdhcp timed out: ${r.stderr.trim().slice(0, 500)}`);
  try {
    return parsePerfdhcp(r.stdout);
  } catch (e) {
    throw new Error(`${(e as Error).message} (exit ${r.code}): ${(r.stderr || r.stdout).trim().slice(0, 500)}`);
  }
}

export async function benchDhcp(net: BenchNet, workDir: string, o: DhcpOptions, progress: (line: string) => void): Promise<DhcpRung[]> {
  const rungs: DhcpRung[] = [];
  for (const rate of o.rates) {
    for (const def of DHCP_SERVERS) {
      const dir = join(workDir, 'dhcp', `${def.name.toLowerCase()}-${rate}`);
      const args = perfdhcpArgs(rate, o.seconds, o.clients, 1_000_000);
      const rung: DhcpRung = { server: def.name, target: rate, report: null, error: null, leasesOnDisk: null, load: loadAverage(), command: `perfdhcp ${args.join(' ')}` };
      let server: Started | null = null;
      try {
        server = await def.start(net, dir);
        await perfdhcp(net, perfdhcpArgs(200, o.warmupSeconds, o.clients, 500_000), o.warmupSeconds);
        rung.load = loadAverage();
        rung.report = await perfdhcp(net, args, o.seconds);
      } catch (e) {
        rung.error = (e as Error).message;
      } finally {
        if (server !== null) {
          await server.stop();
          try {
            rung.leasesOnDisk = server.leasesOnDisk();
          } catch {
            rung.leasesOnDisk = null;
          }
        }
      }
      rungs.push(rung);
      const r = rung.report;
      progress(
        r === null
          ? `dhcp ${def.name} ${rate}/s: FAILED ${rung.error ?? ''}`
          : `dhcp ${def.name} ${rate}/s: ${fmt(achieved(r, o.seconds))}/s, drops ${fmt(r.discoverOffer.dropPercent, 2)}/${fmt(r.requestAck.dropPercent, 2)} %, ` +
              `delay ${fmt(r.discoverOffer.avgDelayMs, 2)}/${fmt(r.requestAck.avgDelayMs, 2)} ms, ${rung.leasesOnDisk ?? '?'} leases on disk (load ${rung.load})`,
      );
    }
  }
  return rungs;
}

/** Completed DORAs (ACKs received) per second of the test period. perfdhcp's own "Rate" divides by the period plus the exit wait. */
export function achieved(r: PerfdhcpReport, seconds: number): number {
  return r.requestAck.received / seconds;
}

export function dhcpTables(rungs: readonly DhcpRung[], o: DhcpOptions): Table[] {
  const ladder: Table = {
    title: `DHCP: perfdhcp rate ladder (${o.clients} clients, ${o.seconds} s per rung, relay mode, server and perfdhcp share the cores)`,
    headers: ['server', 'target/s', 'achieved/s', 'D→O drops %', 'R→A drops %', 'D→O mean ms', 'R→A mean ms', 'leases on disk', 'load 1/5/15'],
    rows: rungs.map((r) => [
      r.server,
      String(r.target),
      r.report === null ? `failed: ${(r.error ?? '').slice(0, 60)}` : fmt(achieved(r.report, o.seconds)),
      fmt(r.report?.discoverOffer.dropPercent, 2),
      fmt(r.report?.requestAck.dropPercent, 2),
      fmt(r.report?.discoverOffer.avgDelayMs, 2),
      fmt(r.report?.requestAck.avgDelayMs, 2),
      r.leasesOnDisk === null ? '–' : String(r.leasesOnDisk),
      r.load,
    ]),
    notes: [
      'achieved = ACKs received / test period; D→O = DISCOVER→OFFER, R→A = REQUEST→ACK (perfdhcp drop time 2 s, exit wait 1 s)',
      'each server started fresh for every rung, then 1 s at 200/s warm-up before the measured period',
    ],
  };
  const best = new Map<string, number | null>();
  for (const def of DHCP_SERVERS) best.set(def.name, highestPassingRate(rungs.filter((r) => r.server === def.name)));
  const dnsmasqBest = best.get('dnsmasq') ?? null;
  const summary: Table = {
    title: 'DHCP: highest rung with < 1 % drops in both exchanges',
    headers: ['server', 'lease persistence', 'highest rate < 1 % drops', 'achieved there/s', 'vs dnsmasq'],
    align: ['left', 'left', 'right', 'right', 'right'],
    rows: DHCP_SERVERS.map((def) => {
      const b = best.get(def.name) ?? null;
      const rep = rungs.find((r) => r.server === def.name && r.target === b)?.report ?? null;
      const at = rep === null ? null : achieved(rep, o.seconds);
      const persistence = def.name === 'rackboot' ? 'SQLite (WAL) per ACK' : def.name === 'dnsmasq' ? 'lease file rewritten per change' : 'memfile CSV append, LFC off';
      return [def.name, persistence, b === null ? `none of ${o.rates.join('/')}` : `${b}/s`, fmt(at), b !== null && dnsmasqBest !== null ? `${fmt(b / dnsmasqBest, 1)}x` : '–'];
    }),
  };
  return [ladder, summary];
}
