// ISO Range reads: what a fleet of BMCs does to an appliance ISO mounted as virtual media — many small random
// Range requests rather than one download. A Kairos-layout ISO (/boot/kernel, /boot/initrd, /rootfs.squashfs,
// the squashfs being random filler) is built with xorriso and ingested with `rackboot artifacts add`; rackboot
// serves it at GET /boot/<id>/<token>/appliance/<name>/appliance.iso (file-handle cache, Range support) and
// nginx (sendfile on) serves the very same blob file. One `curl --parallel --parallel-max N` process in the
// server namespace (keep-alive, N connections) issues the same seeded sequence of 1 MiB-aligned 1 MiB ranges
// to each server; every response is checked (206, exact Content-Range, 1 MiB) from curl's per-transfer
// write-out, and every K-th body is saved and compared by SHA-256 with the file. curl, not a Node client: on
// this 2-core machine a node:http client topped out near 1.4 GiB/s, about half of what curl pulls from nginx.
// Rounds alternate which server goes first; the summary takes the median round.

import { createHash } from 'node:crypto';
import { closeSync, mkdirSync, openSync, readFileSync, readSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeTestFile } from './lib/files.js';
import type { BenchNet } from './lib/netns.js';
import { startNginx } from './lib/nginx.js';
import { run, runOk, type BgProcess } from './lib/procs.js';
import { benchMachineBaseUrl, RACKBOOT_CLI, startRackboot, verifyDownload } from './lib/rackboot.js';
import { loadAverage } from './lib/system.js';
import { fmt, median, type Table } from './lib/table.js';

export interface IsoOptions {
  /** Size of the random rootfs.squashfs filler; the ISO is this plus a few MiB. */
  squashfsBytes: number;
  requests: number;
  clients: number;
  rounds: number;
  seed: number;
  /** Every N-th response body is compared by SHA-256 with the file. */
  checkEvery: number;
}

export interface IsoSample extends IsoLoadResult {
  server: string;
  round: number;
  serverCpuSeconds: number;
  load: string;
}

export interface IsoResult {
  isoBytes: number;
  isoSha256: string;
  samples: IsoSample[];
  rackbootUrl: string;
  nginxUrl: string;
}

const RACKBOOT_PORT = 8090;
const NGINX_PORT = 8091;
const ARTIFACT = 'bench-iso';
const RANGE_BYTES = 2 ** 20;

export interface IsoLoadResult {
  requests: number;
  ok: number;
  errors: number;
  errorSamples: string[];
  bytes: number;
  wallSeconds: number;
  latencyMs: { p50: number; p99: number; max: number };
  spotChecks: number;
  spotMismatches: number;
  clientCpuSeconds: number;
}

/** mulberry32: small, fast, deterministic. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The offsets every server is asked for: `count` 1 MiB-aligned starts that leave a whole 1 MiB in the file. */
function rangeOffsets(fileSize: number, count: number, seed: number): number[] {
  const blocks = Math.floor(fileSize / RANGE_BYTES);
  if (blocks < 1) throw new Error(`file of ${fileSize} bytes is smaller than one range`);
  const rnd = prng(seed);
  return Array.from({ length: count }, () => Math.floor(rnd() * blocks) * RANGE_BYTES);
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN;
}

const quote = (s: string): string => `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;

/** A Kairos-layout ISO: small random kernel and initrd, a random squashfs filler of the given size. */
async function buildIso(dir: string, squashfsBytes: number): Promise<string> {
  const tree = join(dir, 'tree');
  mkdirSync(join(tree, 'boot'), { recursive: true });
  writeTestFile(join(tree, 'boot', 'kernel'), 8 * 2 ** 20);
  writeTestFile(join(tree, 'boot', 'initrd'), 16 * 2 ** 20);
  writeTestFile(join(tree, 'rootfs.squashfs'), squashfsBytes);
  const iso = join(dir, 'bench.iso');
  try {
    await runOk('xorriso', ['-as', 'mkisofs', '-o', iso, '-V', 'COS_LIVE', '-R', '-J', tree], { timeoutMs: 600_000 });
  } finally {
    rmSync(tree, { recursive: true, force: true });
  }
  return iso;
}

/**
 * One timed round: a curl config with one block per range (saved bodies for every checkEvery-th), run as a single
 * `curl --parallel` process; each transfer writes "<index> <status> <bytes> <seconds> <content-range>".
 */
async function loadOnce(net: BenchNet, dir: string, url: string, file: string, offsets: readonly number[], o: IsoOptions): Promise<IsoLoadResult> {
  const size = statSync(file).size;
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const body = (i: number): string => join(dir, `body-${i}`);
  const checked = (i: number): boolean => o.checkEvery > 0 && i % o.checkEvery === 0;
  const blocks = offsets.map((start, i) =>
    [
      `url = ${quote(url)}`,
      `range = "${start}-${start + RANGE_BYTES - 1}"`,
      `output = ${quote(checked(i) ? body(i) : '/dev/null')}`,
      `write-out = "${i} %{http_code} %{size_download} %{time_total} %header{content-range}\\n"`,
    ].join('\n'),
  );
  const cfg = join(dir, 'curl.cfg');
  writeFileSync(cfg, `${blocks.join('\nnext\n')}\n`);
  const curlArgs = ['-sS', '--no-progress-meter', '--parallel', '--parallel-max', String(o.clients), '--max-time', '60', '-K', cfg];
  // The shell's `times` prints the CPU time of its finished children (here: curl) as its last line.
  const sh = net.exec(net.server, 'sh', ['-c', 'curl "$@"; rc=$?; times >&2; exit $rc', 'sh', ...curlArgs]);
  // A safety cap only: every range at 5 MiB/s aggregate, plus a minute.
  const r = await run(sh.command, sh.args, { timeoutMs: (Math.ceil(offsets.length / 5) + 60) * 1000 });
  const latencies: number[] = [];
  const errorSamples: string[] = [];
  const seen = new Set<number>();
  let ok = 0;
  let bytes = 0;
  for (const line of r.stdout.split('\n')) {
    const m = /^(\d+) (\d+) (\d+) ([\d.]+) ?(.*)$/.exec(line.trim());
    if (m === null) continue;
    const i = Number(m[1]);
    const start = offsets[i];
    if (start === undefined || seen.has(i)) continue;
    seen.add(i);
    const got = Number(m[3]);
    bytes += got;
    latencies.push(Number(m[4]) * 1000);
    const want = `bytes ${start}-${start + RANGE_BYTES - 1}/${size}`;
    const why = m[2] !== '206' ? `status ${m[2]} for ${start}` : (m[5] ?? '').trim() !== want ? `content-range "${(m[5] ?? '').trim()}", expected ${want}` : got !== RANGE_BYTES ? `body of ${got} bytes at ${start}` : null;
    if (why === null) ok++;
    else if (errorSamples.length < 5) errorSamples.push(why);
  }
  if (seen.size < offsets.length && errorSamples.length < 5) errorSamples.push(`${offsets.length - seen.size} transfers reported nothing (curl exit ${r.code ?? r.signal}: ${r.stderr.trim().slice(0, 200)})`);
  // Spot checks: the saved bodies against the same bytes of the file.
  let spotChecks = 0;
  let spotMismatches = 0;
  const fd = openSync(file, 'r');
  try {
    const expected = Buffer.alloc(RANGE_BYTES);
    offsets.forEach((start, i) => {
      if (!checked(i)) return;
      spotChecks++;
      readSync(fd, expected, 0, RANGE_BYTES, start);
      let gotBody: Buffer;
      try {
        gotBody = readFileSync(body(i));
      } catch {
        gotBody = Buffer.alloc(0);
      }
      if (createHash('sha256').update(expected).digest('hex') !== createHash('sha256').update(gotBody).digest('hex')) {
        spotMismatches++;
        if (errorSamples.length < 5) errorSamples.push(`sha256 mismatch at ${start}`);
      }
    });
  } finally {
    closeSync(fd);
  }
  rmSync(dir, { recursive: true, force: true });
  // `times` prints two lines, shell then children: "0m0.001s 0m0.002s" / "0m0.150s 0m0.600s".
  const t = r.stderr.trim().split('\n').pop() ?? '';
  const secs = [...t.matchAll(/(\d+)m([\d.]+)s/g)].reduce((n, mm) => n + Number(mm[1]) * 60 + Number(mm[2]), 0);
  const sorted = latencies.sort((a, b) => a - b);
  return {
    requests: offsets.length,
    ok,
    errors: offsets.length - ok,
    errorSamples,
    bytes,
    wallSeconds: r.ms / 1000,
    latencyMs: { p50: percentile(sorted, 50), p99: percentile(sorted, 99), max: sorted[sorted.length - 1] ?? Number.NaN },
    spotChecks,
    spotMismatches,
    clientCpuSeconds: secs,
  };
}

export async function benchIso(net: BenchNet, workDir: string, o: IsoOptions, progress: (line: string) => void): Promise<IsoResult> {
  const dir = join(workDir, 'iso');
  const artifactsRoot = join(dir, 'artifacts');
  mkdirSync(artifactsRoot, { recursive: true });
  progress(`iso: building a Kairos-layout ISO with a ${(o.squashfsBytes / 2 ** 20).toFixed(0)} MiB squashfs filler (xorriso)`);
  const iso = await buildIso(dir, o.squashfsBytes);

  const rbDir = join(dir, 'rackboot');
  const config = { advertiseAddress: '127.0.0.1', http: { listen: '127.0.0.1', port: RACKBOOT_PORT }, tftp: { enabled: false }, dhcp: { mode: 'off' }, artifacts: { root: artifactsRoot } };
  const rb = await startRackboot(net, rbDir, config, ['HTTP']);
  let nginx: BgProcess | null = null;
  const samples: IsoSample[] = [];
  let rackbootUrl = '';
  let nginxUrl = '';
  let isoSha256 = '';
  let isoBytes = 0;
  try {
    // The operator's command, against the config file rackboot is running with (no network involved).
    progress('iso: rackboot artifacts add');
    const added = await runOk(process.execPath, [RACKBOOT_CLI, 'artifacts', 'add', iso, '--name', ARTIFACT, '--config', join(rbDir, 'rackboot.yaml')], { timeoutMs: 600_000, cwd: rbDir });
    const m = /sha256 ([0-9a-f]{64})/.exec(added.stdout);
    if (m === null || m[1] === undefined) throw new Error(`artifacts add printed no sha256: ${added.stdout.slice(0, 500)}`);
    isoSha256 = m[1];
    const blobDir = join(artifactsRoot, 'blobs', 'sha256');
    const blob = join(blobDir, isoSha256);
    isoBytes = statSync(blob).size;
    // The ISO's own copy is no longer needed; both servers read the stored blob.
    rmSync(iso, { force: true });

    rackbootUrl = `${await benchMachineBaseUrl(rb, RACKBOOT_PORT)}/appliance/${ARTIFACT}/appliance.iso`;
    nginxUrl = `http://127.0.0.1:${NGINX_PORT}/${isoSha256}`;
    nginx = await startNginx(net, join(dir, 'nginx'), blobDir, NGINX_PORT, isoSha256);

    const servers: Array<{ name: string; url: string; proc: BgProcess }> = [
      { name: 'nginx', url: nginxUrl, proc: nginx },
      { name: 'rackboot', url: rackbootUrl, proc: rb.proc },
    ];
    // One verified whole download from each first: proves the bytes and warms both servers and the page cache.
    for (const s of servers) {
      await verifyDownload(net, s.name, s.url, isoSha256);
      progress(`iso ${s.name}: whole ISO verified (sha256 matches)`);
    }
    const offsets = rangeOffsets(isoBytes, o.requests, o.seed);
    for (let round = 1; round <= o.rounds; round++) {
      const order = round % 2 === 1 ? servers : [...servers].reverse();
      for (const s of order) {
        const load = loadAverage();
        const cpu0 = s.proc.cpuSeconds();
        const res = await loadOnce(net, join(dir, 'load'), s.url, blob, offsets, o);
        const sample: IsoSample = { ...res, server: s.name, round, serverCpuSeconds: s.proc.cpuSeconds() - cpu0, load };
        samples.push(sample);
        progress(
          `iso round ${round} ${s.name}: ${fmt(reqps(sample), 0)} req/s, ${fmt(mibps(sample), 0)} MiB/s, p50 ${fmt(res.latencyMs.p50, 1)} ms, p99 ${fmt(res.latencyMs.p99, 1)} ms, ` +
            `${res.ok}/${res.requests} ok, ${res.spotChecks} bodies hashed (${res.spotMismatches} mismatched)${res.errorSamples.length > 0 ? `; errors: ${res.errorSamples.join('; ')}` : ''}`,
        );
      }
    }
  } finally {
    await nginx?.stop();
    await rb.proc.stop();
  }
  return { isoBytes, isoSha256, samples, rackbootUrl, nginxUrl };
}

function reqps(s: IsoSample): number {
  return s.ok / s.wallSeconds;
}

function mibps(s: IsoSample): number {
  return s.bytes / 2 ** 20 / s.wallSeconds;
}

function clean(s: IsoSample): boolean {
  return s.errors === 0 && s.spotMismatches === 0;
}

export function isoTables(r: IsoResult, o: IsoOptions): Table[] {
  const size = r.isoBytes >= 2 ** 30 ? `${(r.isoBytes / 2 ** 30).toFixed(2)} GiB` : `${(r.isoBytes / 2 ** 20).toFixed(0)} MiB`;
  const rounds: Table = {
    title: `ISO Range reads: ${o.requests} random 1 MiB ranges of a ${size} ISO from curl --parallel-max ${o.clients} (keep-alive) on loopback, per round`,
    headers: ['round', 'server', 'req/s', 'MiB/s', 'p50 ms', 'p99 ms', 'max ms', 'ok', 'errors', 'hashed', 'server CPU s', 'client CPU s', 'load 1/5/15'],
    align: ['left', 'left', 'right', 'right', 'right', 'right', 'right', 'right', 'right', 'right', 'right', 'right', 'right'],
    rows: r.samples.map((s) => [
      String(s.round),
      s.server,
      fmt(reqps(s), 0),
      fmt(mibps(s), 0),
      fmt(s.latencyMs.p50, 1),
      fmt(s.latencyMs.p99, 1),
      fmt(s.latencyMs.max, 1),
      `${s.ok}/${s.requests}`,
      String(s.errors + s.spotMismatches),
      `${s.spotChecks - s.spotMismatches}/${s.spotChecks}`,
      fmt(s.serverCpuSeconds, 1),
      fmt(s.clientCpuSeconds, 1),
      s.load,
    ]),
  };
  const med = (name: string, f: (s: IsoSample) => number): number => median(r.samples.filter((s) => s.server === name && clean(s)).map(f));
  const errs = (name: string): number => r.samples.filter((s) => s.server === name).reduce((n, s) => n + s.errors + s.spotMismatches, 0);
  const row = (label: string, name: string, ratio: string): string[] => [
    label,
    fmt(med(name, reqps), 0),
    fmt(med(name, mibps), 0),
    fmt(med(name, (s) => s.latencyMs.p50), 1),
    fmt(med(name, (s) => s.latencyMs.p99), 1),
    String(errs(name)),
    ratio,
  ];
  const ratio = med('rackboot', mibps) / med('nginx', mibps);
  const summary: Table = {
    title: 'ISO Range reads: median of the rounds',
    headers: ['server', 'req/s', 'MiB/s', 'p50 ms', 'p99 ms', 'errors (all rounds)', 'rackboot / nginx'],
    align: ['left', 'right', 'right', 'right', 'right', 'right', 'right'],
    rows: [
      ['nginx (sendfile, worker_processes auto)', 'nginx', ''],
      ['rackboot (GET /boot/<id>/<token>/appliance/<name>/appliance.iso)', 'rackboot', Number.isFinite(ratio) ? `${ratio.toFixed(3)}x` : '–'],
    ].map(([label, name, rat]) => row(label ?? '', name ?? '', rat ?? '')),
    notes: [
      `same seeded sequence of 1 MiB-aligned ranges for both servers (seed ${o.seed}); both serve the same blob file, warm in the page cache`,
      `every response checked for 206, the exact Content-Range and a 1 MiB body; every ${o.checkEvery}th body compared by SHA-256 with the file ("hashed")`,
      'medians per column over rounds without errors; latency = curl time_total per transfer (one curl process, 16 transfers in flight, 16 connections reused)',
      'server CPU = user + system time of the server process group during the round; client CPU = the curl process (user + system)',
    ],
  };
  return [rounds, summary];
}
