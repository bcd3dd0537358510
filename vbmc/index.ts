// Public API of the virtual BMC: start one or many Redfish BMCs, each driving a QEMU VM (or a
// simulated machine) — in-process (tests) or through the CLI in vbmc/main.ts (a network namespace).

import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { VirtualBmc, type BmcLogger } from './bmc.js';
import { personalityFor, resolveMachineSpec, type BmcConfig, type VbmcFileConfig } from './config.js';
import { VirtualMachine } from './machine.js';
import type { FaultSettings } from './schemas.js';
import { selfSignedCertificate } from './tls-cert.js';

export { VirtualBmc } from './bmc.js';
export { BmcConfig, VbmcFileConfig, ConfigError, loadVbmcConfig, parseVbmcConfig } from './config.js';
export { VirtualMachine } from './machine.js';
export type { BootRecord, MachineSpec, PowerState, ResetType } from './machine.js';
export { PERSONALITIES, PERSONALITY_IDS } from './personalities.js';
export type { Personality, PersonalityId } from './personalities.js';
export { QmpClient } from './qmp-client.js';
export type { FaultSettings } from './schemas.js';

export interface StartedBmc {
  name: string;
  /** `https://host:port` (or http://). */
  url: string;
  host: string;
  port: number;
  /** SHA-256 of the certificate (`AB:CD:…`), for pinning; undefined over plain HTTP. */
  fingerprint256?: string;
  certPem?: string;
  /** The System's path, e.g. /redfish/v1/Systems/1. */
  systemPath: string;
  bmc: VirtualBmc;
  machine: VirtualMachine;
  /** Replaces the fault settings (same as PUT /vbmc/faults). */
  setFaults(f: FaultSettings): void;
  /** Stops the server and the VM. */
  close(): Promise<void>;
}

export interface StartOptions {
  /** Parent of the machines' work directories (default: a new temporary directory). */
  stateDir?: string;
  logger?: BmcLogger;
}

const quietLogger: BmcLogger = { info: () => undefined, warn: () => undefined };

export async function startVirtualBmc(config: BmcConfig, opts: StartOptions = {}): Promise<StartedBmc> {
  const stateDir = opts.stateDir ?? mkdtempSync(join(tmpdir(), 'vbmc-'));
  const personality = personalityFor(config);
  const spec = resolveMachineSpec(config, personality, stateDir);
  mkdirSync(spec.workDir, { recursive: true });
  const logger = opts.logger ?? quietLogger;
  const machine = new VirtualMachine(spec, logger);
  const host = config.listen?.host ?? '127.0.0.1';
  const useTls = config.listen?.tls ?? true;
  const tls = useTls ? selfSignedCertificate(`${config.name}-bmc`, [host]) : undefined;
  const bmc = new VirtualBmc({
    name: config.name,
    personality,
    machine,
    username: config.username,
    password: config.password,
    ...(tls === undefined ? {} : { tls }),
    ...(config.faults === undefined ? {} : { faults: config.faults }),
    ...(config.sessionTimeoutSeconds === undefined ? {} : { sessionTimeoutMs: config.sessionTimeoutSeconds * 1000 }),
    logger,
  });
  let port: number;
  try {
    port = await bmc.listen(host, config.listen?.port ?? 0);
  } catch (err) {
    await machine.close();
    throw err;
  }
  const urlHost = host.includes(':') ? `[${host}]` : host;
  const system = (await bmc.describe())['systemPath'] as string;
  logger.info(`vbmc ${config.name}: ${personality.id} listening on ${useTls ? 'https' : 'http'}://${urlHost}:${port}`);
  return {
    name: config.name,
    url: `${useTls ? 'https' : 'http'}://${urlHost}:${port}`,
    host,
    port,
    ...(tls === undefined ? {} : { fingerprint256: tls.fingerprint256, certPem: tls.certPem }),
    systemPath: system,
    bmc,
    machine,
    setFaults: (f) => bmc.faults.set(f),
    close: async () => {
      await bmc.close();
      await machine.close();
    },
  };
}

/** Starts every BMC of a file config; on a failure the ones already started are closed. */
export async function startVirtualBmcs(config: VbmcFileConfig, opts: StartOptions = {}): Promise<StartedBmc[]> {
  const stateDir = config.stateDir ?? opts.stateDir;
  const started: StartedBmc[] = [];
  try {
    for (const b of config.bmcs) started.push(await startVirtualBmc(b, { ...opts, ...(stateDir === undefined ? {} : { stateDir }) }));
  } catch (err) {
    await Promise.allSettled(started.map((s) => s.close()));
    throw err;
  }
  return started;
}
