#!/usr/bin/env node
// rackboot benchmark suite: DHCP (perfdhcp vs dnsmasq and Kea), TFTP (vs tftpd-hpa), HTTP and ISO Range reads (vs
// nginx), all in one run, ending with the tables. Needs root (network namespaces) and the Debian packages listed by
// `scripts/install-deps.sh test`. Usage: node dist/bench/run.js [--only dhcp|tftp|http|iso[,…]] [--quick] [--json FILE]

import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { benchDhcp, dhcpTables, type DhcpOptions, type DhcpRung } from './dhcp.js';
import { benchHttp, httpTables, type HttpOptions, type HttpResult } from './http.js';
import { benchIso, isoTables, type IsoOptions, type IsoResult } from './iso.js';
import { createBenchNet, leftoverNamespaces, type BenchNet } from './lib/netns.js';
import { stopAllBackground } from './lib/procs.js';
import { debVersion, loadAverage, machineSummary, oneMinuteLoad } from './lib/system.js';
import { formatTable, type Table } from './lib/table.js';
import { findMissing } from './lib/tools.js';
import { benchTftp, tftpTable, type TftpOptions, type TftpResult } from './tftp.js';

const SECTIONS = ['dhcp', 'tftp', 'http', 'iso'] as const;
type Section = (typeof SECTIONS)[number];

const USAGE = `usage: node dist/bench/run.js [--only dhcp|tftp|http|iso[,...]] [--quick] [--json FILE] [--keep-workdir]

  --only SECTIONS   run only these sections (comma-separated); default: all four
  --quick           short smoke run (under 2 minutes): fewer rungs, shorter periods, smaller HTTP file and ISO
  --json FILE       also write every raw result to FILE
  --keep-workdir    keep the temporary directory with logs, configs and lease files`;

const TOOLS: Record<Section, Array<{ cmd: string; pkg: string }>> = {
  dhcp: [
    { cmd: 'perfdhcp', pkg: 'kea-admin' },
    { cmd: 'dnsmasq', pkg: 'dnsmasq-base' },
    { cmd: 'kea-dhcp4', pkg: 'kea-dhcp4-server' },
    { cmd: 'ss', pkg: 'iproute2' },
  ],
  tftp: [
    { cmd: 'in.tftpd', pkg: 'tftpd-hpa' },
    { cmd: 'curl', pkg: 'curl' },
    { cmd: 'atftp', pkg: 'atftp' },
    { cmd: 'ss', pkg: 'iproute2' },
  ],
  http: [
    { cmd: 'nginx', pkg: 'nginx-light' },
    { cmd: 'curl', pkg: 'curl' },
    { cmd: 'sha256sum', pkg: 'coreutils' },
  ],
  iso: [
    { cmd: 'nginx', pkg: 'nginx-light' },
    { cmd: 'curl', pkg: 'curl' },
    { cmd: 'sha256sum', pkg: 'coreutils' },
    { cmd: 'xorriso', pkg: 'xorriso' },
  ],
};

interface Plan {
  sections: Section[];
  quick: boolean;
  dhcp: DhcpOptions;
  tftp: TftpOptions;
  http: HttpOptions;
  iso: IsoOptions;
}

function plan(quick: boolean, sections: Section[]): Plan {
  return {
    sections,
    quick,
    dhcp: quick ? { rates: [500, 2000], seconds: 3, clients: 2000, warmupSeconds: 1 } : { rates: [100, 250, 500, 1000, 2000, 4000], seconds: 10, clients: 10_000, warmupSeconds: 1 },
    tftp: {
      runs: quick ? 1 : 3,
      files: [
        { name: 'bench-1m.bin', bytes: 2 ** 20 },
        { name: 'bench-50m.bin', bytes: 50 * 2 ** 20 },
      ],
    },
    http: quick ? { fileBytes: 256 * 2 ** 20, clients: 16, rounds: 1 } : { fileBytes: 2 ** 30, clients: 64, rounds: 3 },
    iso: quick
      ? { squashfsBytes: 256 * 2 ** 20, requests: 600, clients: 16, rounds: 1, seed: 20261122, checkEvery: 50 }
      : { squashfsBytes: 2 ** 30, requests: 3000, clients: 16, rounds: 3, seed: 20261122, checkEvery: 50 },
  };
}

function parseSections(only: string | undefined): Section[] {
  if (only === undefined) return [...SECTIONS];
  const wanted = only.split(',').map((s) => s.trim().toLowerCase());
  const bad = wanted.filter((s) => !(SECTIONS as readonly string[]).includes(s));
  if (bad.length > 0 || wanted.length === 0) throw new Error(`--only: unknown section ${bad.join(', ')}; use dhcp, tftp, http or iso`);
  return SECTIONS.filter((s) => wanted.includes(s));
}

const progress = (line: string): void => {
  process.stderr.write(`[${new Date().toISOString().slice(11, 19)}] ${line}\n`);
};

async function main(argv: string[]): Promise<number> {
  let values;
  try {
    values = parseArgs({
      args: argv,
      options: { only: { type: 'string' }, quick: { type: 'boolean' }, json: { type: 'string' }, 'keep-workdir': { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
    }).values;
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n${USAGE}\n`);
    return 2;
  }
  if (values.help === true) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  let p: Plan;
  try {
    p = plan(values.quick === true, parseSections(values.only));
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n`);
    return 2;
  }
  // perfdhcp, kea-dhcp4, dnsmasq, in.tftpd, nginx and ip live in sbin directories a non-login PATH may lack.
  const path = (process.env['PATH'] ?? '').split(':').filter((d) => d !== '');
  process.env['PATH'] = [...path, ...['/usr/local/sbin', '/usr/sbin', '/sbin', '/usr/bin', '/bin'].filter((d) => !path.includes(d))].join(':');
  if (process.platform !== 'linux' || process.getuid?.() !== 0) {
    process.stderr.write('the benchmark needs Linux and root (it creates network namespaces)\n');
    return 2;
  }
  const missing = findMissing(['ip', ...p.sections.flatMap((s) => TOOLS[s].map((t) => t.cmd))]);
  if (missing.length > 0) {
    const pkgs = [...new Set(p.sections.flatMap((s) => TOOLS[s]).filter((t) => missing.includes(t.cmd)).map((t) => t.pkg))];
    process.stderr.write(`missing commands: ${missing.join(', ')}; install with: apt-get install -y --no-install-recommends ${pkgs.join(' ') || 'iproute2'}\n`);
    return 2;
  }

  const workDir = mkdtempSync(join(tmpdir(), 'rb-bench-'));
  // nginx workers run as an unprivileged user and must reach the test files; mkdtemp makes the directory 0700.
  chmodSync(workDir, 0o755);
  let net: BenchNet | null = null;
  let cleaned: Promise<void> | null = null;
  const cleanup = (): Promise<void> =>
    (cleaned ??= (async () => {
      await stopAllBackground();
      net?.destroy();
      if (values['keep-workdir'] !== true) rmSync(workDir, { recursive: true, force: true });
    })());
  // Last resort if the run dies on an exception: the namespaces and processes have their own exit hooks.
  process.once('exit', () => {
    if (values['keep-workdir'] !== true) rmSync(workDir, { recursive: true, force: true });
  });
  const onSignal = (sig: NodeJS.Signals): void => {
    progress(`${sig}: cleaning up`);
    void cleanup().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  const started = new Date();
  const loadAtStart = loadAverage();
  const tables: Table[] = [];
  const raw: { dhcp?: DhcpRung[]; tftp?: TftpResult; http?: HttpResult; iso?: IsoResult } = {};
  const failures: string[] = [];
  try {
    progress(`work directory ${workDir}; load average ${loadAtStart}${oneMinuteLoad() > 1.5 ? ' (the machine is busy: expect noisy numbers)' : ''}`);
    net = createBenchNet();
    for (const section of p.sections) {
      try {
        if (section === 'dhcp') {
          raw.dhcp = await benchDhcp(net, workDir, p.dhcp, progress);
          tables.push(...dhcpTables(raw.dhcp, p.dhcp));
        } else if (section === 'tftp') {
          raw.tftp = await benchTftp(net, workDir, p.tftp, progress);
          tables.push(tftpTable(raw.tftp, p.tftp));
        } else if (section === 'http') {
          raw.http = await benchHttp(net, workDir, p.http, progress);
          tables.push(...httpTables(raw.http, p.http));
        } else {
          raw.iso = await benchIso(net, workDir, p.iso, progress);
          tables.push(...isoTables(raw.iso, p.iso));
        }
      } catch (e) {
        failures.push(`${section}: ${(e as Error).message}`);
        progress(`${section} FAILED: ${(e as Error).message}`);
        await stopAllBackground();
      }
    }
  } finally {
    await cleanup();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  const left = leftoverNamespaces();
  if (left.length > 0) failures.push(`could not delete namespaces: ${left.join(', ')}`);

  const finished = new Date();
  const header = [
    `# rackboot benchmark (${p.quick ? 'quick' : 'full'} run: ${p.sections.join(', ')})`,
    '',
    `- started ${started.toISOString()}, took ${((finished.getTime() - started.getTime()) / 1000).toFixed(0)} s`,
    ...machineSummary().map((l) => `- ${l}`),
    `- load average (1/5/15 min) at start ${loadAtStart}, at end ${loadAverage()}`,
    `- versions: ${['kea-admin', 'kea-dhcp4-server', 'dnsmasq-base', 'tftpd-hpa', 'atftp', 'curl', 'nginx-light', 'xorriso']
      .map((pkg) => `${pkg} ${debVersion(pkg) ?? 'n/a'}`)
      .join(', ')}`,
  ];
  process.stdout.write(`${header.join('\n')}\n\n${tables.map(formatTable).join('\n\n')}\n`);
  if (failures.length > 0) process.stdout.write(`\nFAILED:\n${failures.map((f) => `- ${f}`).join('\n')}\n`);
  if (values.json !== undefined) writeFileSync(values.json, `${JSON.stringify({ started, finished, plan: p, loadAtStart, results: raw, failures }, null, 2)}\n`);
  return failures.length > 0 ? 1 : 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`bench: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exit(1);
  },
);
