// TFTP: time to download a 1 MB and a 50 MB file from rackboot's TFTP server and from tftpd-hpa (in.tftpd),
// with curl (blksize 1468, lock-step) and atftp (blksize 1468, windowsize 8; tftpd-hpa ignores windowsize).
// Both servers run at once in the server namespace (rackboot on :69, tftpd-hpa on :6969) and the runs are
// interleaved, so a burst of load from elsewhere hits both alike. Clients run in the client namespace, across
// the veth (MTU 1500: a 1468-byte block fills a frame exactly). Every download is checked byte for byte.

import { randomBytes } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sha256File, writeTestFile } from './lib/files.js';
import { SERVER_IP, type BenchNet } from './lib/netns.js';
import { run, startBackground, waitFor, type BgProcess } from './lib/procs.js';
import { startRackboot, tail } from './lib/rackboot.js';
import { loadAverage } from './lib/system.js';
import { fmtSeconds, median, type Table } from './lib/table.js';

export interface TftpOptions {
  runs: number;
  files: ReadonlyArray<{ name: string; bytes: number }>;
}

export interface TftpSample {
  server: string;
  client: string;
  file: string;
  bytes: number;
  seconds: number[];
  failures: string[];
}

export interface TftpResult {
  samples: TftpSample[];
  /** Median wall time of `ip netns exec <client ns> true`: the fixed cost included in every timing. */
  spawnOverheadMs: number;
  load: { start: string; end: string };
}

const IPXE = ['undionly.kpxe', 'snponly.efi', 'ipxe.efi'];
const RACKBOOT_PORT = 69;
const TFTPD_PORT = 6969;

interface Client {
  name: string;
  args(file: string, port: number, out: string): { command: string; args: string[] };
}

const CLIENTS: Client[] = [
  { name: 'curl --tftp-blksize 1468', args: (f, port, out) => ({ command: 'curl', args: ['-sS', '--tftp-blksize', '1468', '-o', out, `tftp://${SERVER_IP}:${port}/${f}`] }) },
  {
    name: 'atftp blksize 1468 windowsize 8',
    args: (f, port, out) => ({ command: 'atftp', args: ['--option', 'blksize 1468', '--option', 'windowsize 8', '-g', '-r', f, '-l', out, SERVER_IP, String(port)] }),
  },
];

async function startTftpdHpa(net: BenchNet, dir: string, root: string): Promise<BgProcess> {
  // -L: stay in the foreground; it forks one child per transfer, all in its process group.
  const x = net.exec(net.server, 'in.tftpd', ['-4', '-L', '-a', `${SERVER_IP}:${TFTPD_PORT}`, '-s', root, '-u', 'root']);
  const proc = await startBackground('in.tftpd', x.command, x.args, { logFile: join(dir, 'tftpd-hpa.log'), cwd: dir });
  const ss = net.exec(net.server, 'ss', ['-Hlun', `sport = :${TFTPD_PORT}`]);
  await waitFor(
    'in.tftpd to bind',
    async () => {
      if (!proc.running()) throw new Error(`in.tftpd exited during start-up (exit status 66 means no non-loopback address); see ${proc.logFile}:\n${tail(proc.logFile)}`);
      return (await run(ss.command, ss.args, { timeoutMs: 5000 })).stdout.trim().length > 0;
    },
    15_000,
  );
  return proc;
}

export async function benchTftp(net: BenchNet, workDir: string, o: TftpOptions, progress: (line: string) => void): Promise<TftpResult> {
  const dir = join(workDir, 'tftp');
  const root = join(dir, 'root');
  const outDir = join(dir, 'out');
  mkdirSync(root, { recursive: true });
  mkdirSync(outDir, { recursive: true });
  // rackboot serves TFTP from boot.ipxeDir, which must hold the iPXE builds.
  for (const b of IPXE) {
    const src = join('/usr/lib/ipxe', b);
    if (existsSync(src)) copyFileSync(src, join(root, b));
    else writeFileSync(join(root, b), randomBytes(200_000));
  }
  const hashes = new Map<string, string>();
  for (const f of o.files) hashes.set(f.name, writeTestFile(join(root, f.name), f.bytes));

  const load = { start: loadAverage(), end: '' };
  const nsTrue = net.exec(net.client, 'true');
  const overhead: number[] = [];
  for (let i = 0; i < 5; i++) overhead.push((await run(nsTrue.command, nsTrue.args, { timeoutMs: 10_000 })).ms);

  const rb = await startRackboot(
    net,
    join(dir, 'rackboot'),
    {
      advertiseAddress: SERVER_IP,
      http: { listen: '127.0.0.1', port: 8080 },
      tftp: { enabled: true, listen: '0.0.0.0', port: RACKBOOT_PORT },
      dhcp: { mode: 'off' },
      boot: { ipxeDir: root },
    },
    ['HTTP', 'TFTP'],
  );
  let tftpd: BgProcess | null = null;
  const samples: TftpSample[] = [];
  try {
    tftpd = await startTftpdHpa(net, dir, root);
    const servers = [
      { name: 'rackboot', port: RACKBOOT_PORT },
      { name: 'tftpd-hpa', port: TFTPD_PORT },
    ];
    for (const f of o.files) for (const c of CLIENTS) for (const s of servers) samples.push({ server: s.name, client: c.name, file: f.name, bytes: f.bytes, seconds: [], failures: [] });
    for (let runNo = 1; runNo <= o.runs; runNo++) {
      for (const f of o.files) {
        for (const c of CLIENTS) {
          // Alternate which server goes first.
          const order = runNo % 2 === 1 ? servers : [...servers].reverse();
          for (const s of order) {
            const sample = samples.find((x) => x.server === s.name && x.client === c.name && x.file === f.name);
            if (sample === undefined) continue;
            const out = join(outDir, `${s.name}-${f.name}`);
            rmSync(out, { force: true });
            const cmd = c.args(f.name, s.port, out);
            const x = net.exec(net.client, cmd.command, cmd.args);
            const r = await run(x.command, x.args, { timeoutMs: 120_000 });
            const ok = r.code === 0 && existsSync(out) && sha256File(out) === hashes.get(f.name);
            if (ok) sample.seconds.push(r.ms / 1000);
            else sample.failures.push(r.timedOut ? 'timeout' : `exit ${r.code ?? r.signal}${r.code === 0 ? ', content differs' : ''}: ${(r.stderr || r.stdout).trim().slice(0, 200)}`);
            rmSync(out, { force: true });
            progress(`tftp run ${runNo} ${s.name} ${c.name} ${f.name}: ${ok ? `${fmtSeconds(r.ms / 1000)} s` : `FAILED ${sample.failures.at(-1) ?? ''}`}`);
          }
        }
      }
    }
  } finally {
    await tftpd?.stop();
    await rb.proc.stop();
    load.end = loadAverage();
  }
  return { samples, spawnOverheadMs: median(overhead), load };
}

export function tftpTable(r: TftpResult, o: TftpOptions): Table {
  const rows: string[][] = [];
  const cell = (s: TftpSample | undefined): string => {
    if (s === undefined || s.seconds.length === 0) return `failed${s && s.failures[0] ? `: ${s.failures[0].slice(0, 40)}` : ''}`;
    const m = median(s.seconds);
    const range = s.seconds.length > 1 ? ` (${fmtSeconds(Math.min(...s.seconds))}–${fmtSeconds(Math.max(...s.seconds))})` : '';
    const fails = s.failures.length > 0 ? `, ${s.failures.length} failed` : '';
    return `${fmtSeconds(m)}${range}${fails}`;
  };
  for (const f of o.files) {
    for (const client of [...new Set(r.samples.map((s) => s.client))]) {
      const rb = r.samples.find((s) => s.file === f.name && s.client === client && s.server === 'rackboot');
      const hpa = r.samples.find((s) => s.file === f.name && s.client === client && s.server === 'tftpd-hpa');
      const mib = (s: TftpSample | undefined): string => (s === undefined || s.seconds.length === 0 ? '–' : (f.bytes / 2 ** 20 / median(s.seconds)).toFixed(1));
      const ratio = rb && hpa && rb.seconds.length > 0 && hpa.seconds.length > 0 ? `${(median(hpa.seconds) / median(rb.seconds)).toFixed(2)}x` : '–';
      rows.push([`${f.name} (${(f.bytes / 2 ** 20).toFixed(0)} MiB)`, client, cell(rb), cell(hpa), mib(rb), mib(hpa), ratio]);
    }
  }
  return {
    title: `TFTP: download time, median of ${o.runs} (min–max), seconds`,
    headers: ['file', 'client', 'rackboot s', 'tftpd-hpa s', 'rackboot MiB/s', 'tftpd-hpa MiB/s', 'rackboot speed-up'],
    align: ['left', 'left', 'right', 'right', 'right', 'right', 'right'],
    rows,
    notes: [
      `times are the client process's wall time, including about ${r.spawnOverheadMs.toFixed(0)} ms to start it under ip netns exec`,
      'speed-up = tftpd-hpa median / rackboot median (above 1 means rackboot is faster); tftpd-hpa does not negotiate windowsize',
      `load average at start ${r.load.start}, at end ${r.load.end}`,
    ],
  };
}
