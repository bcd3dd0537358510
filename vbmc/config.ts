// Configuration of a vbmc process (YAML or JSON): one or many virtual BMCs, each on its own port,
// each driving one machine. Checked with typebox at load; defaults filled in by resolveBmcConfig.

import { randomBytes, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Type, type Static } from '@sinclair/typebox';
import { parse as parseYaml } from 'yaml';
import type { MachineSpec } from './machine.js';
import { PERSONALITIES, PERSONALITY_IDS, type Personality } from './personalities.js';
import { check, FaultSettings } from './schemas.js';

const Mac = Type.String({ pattern: '^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$' });
const Uuid = Type.String({ pattern: '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$' });
const BootDevice = Type.Union([Type.Literal('disk'), Type.Literal('cdrom'), Type.Literal('net')]);

export const MachineConfig = Type.Object(
  {
    backend: Type.Optional(Type.Union([Type.Literal('qemu'), Type.Literal('simulated')])),
    uuid: Type.Optional(Uuid),
    serialNumber: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9._-]{1,64}$' })),
    manufacturer: Type.Optional(Type.String({ maxLength: 64 })),
    model: Type.Optional(Type.String({ maxLength: 64 })),
    memoryMb: Type.Optional(Type.Integer({ minimum: 64, maximum: 65536 })),
    cpus: Type.Optional(Type.Integer({ minimum: 1, maximum: 64 })),
    firmware: Type.Optional(Type.Union([Type.Literal('seabios'), Type.Literal('ovmf')])),
    nicBoot: Type.Optional(Type.Union([Type.Literal('ipxe-rom'), Type.Literal('firmware-pxe'), Type.Literal('firmware-http')])),
    nics: Type.Array(Type.Object({ mac: Mac, tap: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9_.-]{1,15}$' })) }, { additionalProperties: false }), { minItems: 1 }),
    disks: Type.Optional(
      Type.Array(
        Type.Object(
          {
            path: Type.Optional(Type.String({ minLength: 1 })),
            sizeMb: Type.Optional(Type.Integer({ minimum: 1 })),
            serial: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9_-]{1,20}$' })),
          },
          { additionalProperties: false },
        ),
      ),
    ),
    bootOrder: Type.Optional(Type.Array(BootDevice, { minItems: 1 })),
    workDir: Type.Optional(Type.String({ minLength: 1 })),
    gracefulShutdownSeconds: Type.Optional(Type.Number({ minimum: 0, maximum: 3600 })),
    qemuBinary: Type.Optional(Type.String({ minLength: 1 })),
    extraQemuArgs: Type.Optional(Type.Array(Type.String())),
  },
  { additionalProperties: false },
);

export const BmcConfig = Type.Object(
  {
    name: Type.String({ pattern: '^[A-Za-z0-9_.-]{1,64}$' }),
    personality: Type.Optional(Type.Union(PERSONALITY_IDS.map((p) => Type.Literal(p)))),
    listen: Type.Optional(
      Type.Object(
        {
          host: Type.Optional(Type.String()),
          port: Type.Optional(Type.Integer({ minimum: 0, maximum: 65535 })),
          /** Default true: HTTPS with a self-signed certificate. */
          tls: Type.Optional(Type.Boolean()),
        },
        { additionalProperties: false },
      ),
    ),
    username: Type.String({ minLength: 1 }),
    password: Type.String({ minLength: 1 }),
    faults: Type.Optional(FaultSettings),
    sessionTimeoutSeconds: Type.Optional(Type.Integer({ minimum: 1 })),
    /** Personality overrides. */
    maxSessions: Type.Optional(Type.Integer({ minimum: 1 })),
    machine: MachineConfig,
  },
  { additionalProperties: false },
);
export type BmcConfig = Static<typeof BmcConfig>;

export const VbmcFileConfig = Type.Object(
  {
    /** Work directories of machines without their own workDir go under it. */
    stateDir: Type.Optional(Type.String({ minLength: 1 })),
    /** Written (JSON) once every BMC listens. */
    readyFile: Type.Optional(Type.String({ minLength: 1 })),
    bmcs: Type.Array(BmcConfig, { minItems: 1 }),
  },
  { additionalProperties: false },
);
export type VbmcFileConfig = Static<typeof VbmcFileConfig>;

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

export function parseVbmcConfig(text: string, source: string): VbmcFileConfig {
  let raw: unknown;
  try {
    raw = source.endsWith('.json') ? JSON.parse(text) : parseYaml(text);
  } catch (err) {
    throw new ConfigError(`${source}: not valid ${source.endsWith('.json') ? 'JSON' : 'YAML'}: ${err instanceof Error ? err.message : String(err)}`);
  }
  const c = check(VbmcFileConfig, raw);
  if (!c.ok) throw new ConfigError(`${source}: ${c.problem}`);
  const names = new Set<string>();
  for (const b of c.value.bmcs) {
    if (names.has(b.name)) throw new ConfigError(`${source}: BMC name ${b.name} is used twice`);
    names.add(b.name);
  }
  return c.value;
}

export function loadVbmcConfig(path: string): VbmcFileConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read ${path}: ${err instanceof Error ? err.message : String(err)}`);
  }
  return parseVbmcConfig(text, path);
}

/** The machine spec with every default applied. */
export function resolveMachineSpec(c: BmcConfig, personality: Personality, stateDir: string): MachineSpec {
  const m = c.machine;
  const workDir = m.workDir ?? join(stateDir, c.name);
  const serial = m.serialNumber ?? `VBMC${randomBytes(4).toString('hex').toUpperCase()}`;
  return {
    name: c.name,
    backend: m.backend ?? 'qemu',
    uuid: (m.uuid ?? randomUUID()).toLowerCase(),
    serialNumber: serial,
    manufacturer: m.manufacturer ?? personality.manufacturer,
    model: m.model ?? personality.model,
    memoryMb: m.memoryMb ?? 512,
    cpus: m.cpus ?? 1,
    firmware: m.firmware ?? 'seabios',
    nicBoot: m.nicBoot ?? 'ipxe-rom',
    nics: m.nics.map((n) => ({ mac: n.mac.toLowerCase(), ...(n.tap === undefined ? {} : { tap: n.tap }) })),
    disks: (m.disks ?? [{}]).map((d, i) => ({
      path: d.path ?? join(workDir, `disk${i}.raw`),
      sizeBytes: (d.sizeMb ?? 1024) * 1024 * 1024,
      serial: d.serial ?? `${serial.slice(0, 16)}D${i}`,
    })),
    bootOrder: m.bootOrder ?? ['disk', 'cdrom', 'net'],
    mediaSlots: 2,
    workDir,
    gracefulShutdownTimeoutMs: (m.gracefulShutdownSeconds ?? 20) * 1000,
    qemuBinary: m.qemuBinary ?? 'qemu-system-x86_64',
    extraQemuArgs: m.extraQemuArgs ?? [],
  };
}

export function personalityFor(c: BmcConfig): Personality {
  const base = PERSONALITIES[c.personality ?? 'generic'];
  return c.maxSessions === undefined ? base : { ...base, maxSessions: c.maxSessions };
}
