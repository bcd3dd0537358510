// HTTP: aggregate throughput of one large file sent to N concurrent clients, rackboot's artifact route
// (GET /boot/<machineId>/<token>/files/<path>) against nginx (sendfile on). Both servers and the N curl
// processes run in the server namespace on loopback. Each client downloads the whole file once; throughput is
// total bytes over the wall time until the last client finished. Rounds alternate which server goes first.

import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { writeTestFile } from './lib/files.js';
import type { BenchNet } from './lib/netns.js';
import { startNginx } from './lib/nginx.js';
import { run, type BgProcess } from './lib/procs.js';
import { benchMachineBaseUrl, startRackboot, verifyDownload } from './lib/rackboot.js';
import { loadAverage } from './lib/system.js';
import { fmt, median, type Table } from './lib/table.js';

export interface HttpOptions {
  fileBytes: number;
  clients: number;
  rounds: number;
}

export interface HttpSample {
  server: string;
  round: number;
  wallSeconds: number;
  bytes: number;
  complete: number;
  failed: number;
  serverCpuSeconds: number;
  load: string;
}

export interface HttpResult {
  samples: HttpSample[];
  rackbootUrl: string;
  nginxUrl: string;
}

const RACKBOOT_PORT = 8080;
const NGINX_PORT = 8081;
const FILE = 'bench-payload.bin';

/** N curl processes started at once inside the server namespace; each prints "<status> <bytes>". */
async function load(net: BenchNet, url: string, clients: number, maxSeconds: number): Promise<{ wallSeconds: number; bytes: number; complete: number; failed: number; expected: number }> {
  const script =
    'n=$1; url=$2; t=$3; i=0; while [ $i -lt $n ]; do curl -sS -o /dev/null --max-time "$t" -w "%{http_code} %{size_download}\\n" "$url" & i=$((i+1)); done; wait';
  const x = net.exec(net.server, 'sh', ['-c', script, 'sh', String(clients), url, String(maxSeconds)]);
  const r = await run(x.command, x.args, { timeoutMs: (maxSeconds + 30) * 1000 });
  let bytes = 0;
  let complete = 0;
  const lines = r.stdout.split('\n').filter((l) => l.trim() !== '');
  for (const l of lines) {
    const [status, size] = l.trim().split(/\s+/);
    bytes += Number(size) || 0;
    if (status === '200') complete++;
  }
  return { wallSeconds: r.ms / 1000, bytes, complete, failed: clients - complete, expected: clients };
}

export async function benchHttp(net: BenchNet, workDir: string, o: HttpOptions, progress: (line: string) => void): Promise<HttpResult> {
  const dir = join(workDir, 'http');
  const root = join(dir, 'artifacts');
  mkdirSync(root, { recursive: true });
  const path = join(root, FILE);
  progress(`http: writing a ${(o.fileBytes / 2 ** 20).toFixed(0)} MiB test file`);
  const hash = writeTestFile(path, o.fileBytes);

  const rb = await startRackboot(
    net,
    join(dir, 'rackboot'),
    { advertiseAddress: '127.0.0.1', http: { listen: '127.0.0.1', port: RACKBOOT_PORT }, tftp: { enabled: false }, dhcp: { mode: 'off' }, artifacts: { root } },
    ['HTTP'],
  );
  let nginx: BgProcess | null = null;
  const samples: HttpSample[] = [];
  let rackbootUrl = '';
  const nginxUrl = `http://127.0.0.1:${NGINX_PORT}/${FILE}`;
  try {
    rackbootUrl = `${await benchMachineBaseUrl(rb, RACKBOOT_PORT)}/files/${FILE}`;
    nginx = await startNginx(net, join(dir, 'nginx'), root, NGINX_PORT, FILE);

    const servers: Array<{ name: string; url: string; proc: BgProcess }> = [
      { name: 'nginx', url: nginxUrl, proc: nginx },
      { name: 'rackboot', url: rackbootUrl, proc: rb.proc },
    ];
    // One verified download from each first: proves the bytes and warms both servers.
    for (const s of servers) {
      const ms = await verifyDownload(net, s.name, s.url, hash);
      progress(`http ${s.name}: single download verified (sha256 matches), ${((o.fileBytes / 2 ** 20) / (ms / 1000)).toFixed(0)} MiB/s incl. hashing`);
    }
    // A safety cap only: the whole load at 100 MiB/s aggregate, plus a minute.
    const maxSeconds = Math.ceil((o.fileBytes * o.clients) / (100 * 2 ** 20)) + 60;
    for (let round = 1; round <= o.rounds; round++) {
      const order = round % 2 === 1 ? servers : [...servers].reverse();
      for (const s of order) {
        const loadAvg = loadAverage();
        const cpu0 = s.proc.cpuSeconds();
        const res = await load(net, s.url, o.clients, maxSeconds);
        const cpu = s.proc.cpuSeconds() - cpu0;
        const sample: HttpSample = { server: s.name, round, wallSeconds: res.wallSeconds, bytes: res.bytes, complete: res.complete, failed: res.failed, serverCpuSeconds: cpu, load: loadAvg };
        samples.push(sample);
        progress(
          `http round ${round} ${s.name}: ${fmt(mibps(sample), 0)} MiB/s aggregate, ${res.complete}/${o.clients} complete in ${fmt(res.wallSeconds, 1)} s, server CPU ${fmt(cpu, 1)} s (load ${loadAvg})`,
        );
      }
    }
  } finally {
    await nginx?.stop();
    await rb.proc.stop();
  }
  return { samples, rackbootUrl, nginxUrl };
}

function mibps(s: HttpSample): number {
  return s.bytes / 2 ** 20 / s.wallSeconds;
}

export function httpTables(r: HttpResult, o: HttpOptions): Table[] {
  const size = o.fileBytes >= 2 ** 30 ? `${(o.fileBytes / 2 ** 30).toFixed(0)} GiB` : `${(o.fileBytes / 2 ** 20).toFixed(0)} MiB`;
  const rounds: Table = {
    title: `HTTP: ${size} file to ${o.clients} concurrent curl clients on loopback, per round`,
    headers: ['round', 'server', 'aggregate MiB/s', 'wall s', 'complete', 'server CPU s', 'CPU s per GiB', 'load 1/5/15'],
    align: ['left', 'left', 'right', 'right', 'right', 'right', 'right', 'right'],
    rows: r.samples.map((s) => [
      String(s.round),
      s.server,
      fmt(mibps(s), 0),
      fmt(s.wallSeconds, 1),
      `${s.complete}/${s.complete + s.failed}`,
      fmt(s.serverCpuSeconds, 1),
      fmt(s.serverCpuSeconds / (s.bytes / 2 ** 30), 2),
      s.load,
    ]),
  };
  const med = (name: string): number => median(r.samples.filter((s) => s.server === name && s.failed === 0).map(mibps));
  const rb = med('rackboot');
  const ng = med('nginx');
  const ratio = rb / ng;
  const summary: Table = {
    title: 'HTTP: median aggregate throughput',
    headers: ['server', 'median MiB/s', 'rackboot / nginx', 'target ≥ 0.8x'],
    align: ['left', 'right', 'right', 'left'],
    rows: [
      ['nginx (sendfile, worker_processes auto)', fmt(ng, 0), '', ''],
      ['rackboot (GET /boot/<id>/<token>/files/…)', fmt(rb, 0), Number.isFinite(ratio) ? `${ratio.toFixed(3)}x` : '–', Number.isFinite(ratio) ? (ratio >= 0.8 ? 'met' : 'NOT met') : '–'],
    ],
    notes: ['only rounds in which every client got the whole file count towards the median', 'server CPU = user + system time of the server process group during the round'],
  };
  return [rounds, summary];
}
