#!/usr/bin/env node
// vbmc CLI: `node dist/vbmc/main.js --config vbmc.yaml [--ready-file path]`. Meant to run inside the
// network namespace that holds the VMs' taps (`ip netns exec <ns> node …`). Prints one line
// `VBMC READY <json>` on stdout when every BMC listens (and writes the same JSON to the ready file),
// then runs until SIGTERM/SIGINT, when it powers the VMs off and exits 0.

import { writeFileSync, renameSync } from 'node:fs';
import { ConfigError, loadVbmcConfig, startVirtualBmcs, type StartedBmc } from './index.js';

function usage(): never {
  process.stderr.write('usage: vbmc --config <file.yaml|file.json> [--ready-file <path>] [--quiet]\n');
  process.exit(2);
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  let configPath: string | undefined;
  let readyFile: string | undefined;
  let quiet = false;
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === '--config') configPath = args[++i];
    else if (a === '--ready-file') readyFile = args[++i];
    else if (a === '--quiet') quiet = true;
    else usage();
  }
  if (configPath === undefined) usage();
  const log = (level: string, msg: string): void => {
    if (quiet && level === 'info') return;
    process.stderr.write(`${new Date().toISOString()} ${level} ${msg}\n`);
  };
  let bmcs: StartedBmc[];
  try {
    const config = loadVbmcConfig(configPath);
    readyFile ??= config.readyFile;
    bmcs = await startVirtualBmcs(config, { logger: { info: (m) => log('info', m), warn: (m) => log('warn', m) } });
  } catch (err) {
    log('error', err instanceof ConfigError ? err.message : `vbmc failed to start: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  }
  const ready = {
    pid: process.pid,
    bmcs: bmcs.map((b) => ({ name: b.name, url: b.url, port: b.port, systemPath: b.systemPath, personality: b.bmc.personality.id, fingerprint256: b.fingerprint256 ?? null, uuid: b.machine.spec.uuid })),
  };
  const line = JSON.stringify(ready);
  if (readyFile !== undefined) {
    writeFileSync(`${readyFile}.tmp`, `${line}\n`);
    renameSync(`${readyFile}.tmp`, readyFile);
  }
  process.stdout.write(`VBMC READY ${line}\n`);
  let stopping = false;
  const stop = (sig: string): void => {
    if (stopping) return;
    stopping = true;
    log('info', `vbmc: ${sig}, stopping`);
    void Promise.allSettled(bmcs.map((b) => b.close())).then(() => process.exit(0));
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

void main();
