// Registering a machine by its BMC alone: rackboot reads identity, NICs, disks and boot mode over
// Redfish and creates the inventory machine, or fills in the one that already has this UUID or a MAC.

import { Type, type Static } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import type { Logger } from 'pino';
import { connectRedfish, isRedfishError, normalizeFingerprint, type Inventory, type RedfishCall, type RedfishTlsOptions, type TofuInfo } from '../../redfish/index.js';
import { normalizeUuid } from '../inventory/identity.js';
import type { Machine, MachineDisk } from '../inventory/machine.js';
import { normalizeMachineInput, type FieldIssue } from '../inventory/normalize.js';
import { dottedPath } from '../schema/issue-path.js';
import type { CredentialCipher } from '../secrets/credential-cipher.js';
import { StoreError, type BmcRepo, type EventRepo, type MachineRepo } from '../store/types.js';
import type { Timeline } from '../timeline/recorder.js';
import type { CallMetrics } from '../metrics/metrics.js';
import { bmcCallEvent, callOperation, clientOptions, type BmcClientSettings } from './bmc-connection.js';
import { publicBmc, type BmcTrust, type PublicBmc } from './bmc-record.js';

const NAME = '^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$';

export const BmcRegistrationSchema = Type.Object(
  {
    address: Type.String({ minLength: 1, maxLength: 300, description: 'host, host:port or https://host[:port]' }),
    username: Type.String({ minLength: 1, maxLength: 256 }),
    password: Type.String({ maxLength: 1024 }),
    systemId: Type.Optional(Type.String({ minLength: 1, maxLength: 256, description: 'required when the BMC manages several systems' })),
    tls: Type.Union([
      Type.Object({ caBundle: Type.String({ minLength: 1, maxLength: 65536 }) }, { additionalProperties: false }),
      Type.Object({ fingerprintSha256: Type.String({ minLength: 64, maxLength: 120 }) }, { additionalProperties: false }),
      Type.Object({ trustOnFirstUse: Type.Literal(true) }, { additionalProperties: false }),
    ]),
    name: Type.Optional(Type.String({ pattern: NAME })),
    profile: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9._-]+$' })),
    role: Type.Optional(Type.String({ pattern: '^[a-z][a-z0-9-]{0,31}$' })),
    rack: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
    tags: Type.Optional(Type.Array(Type.String({ pattern: '^[A-Za-z0-9._:-]{1,64}$' }), { maxItems: 32 })),
  },
  { additionalProperties: false },
);
export type BmcRegistration = Static<typeof BmcRegistrationSchema>;

export type RegistrationResult =
  | { ok: true; created: boolean; machine: Machine; bmc: PublicBmc }
  | { ok: false; status: 400 | 409 | 422 | 502; code: string; message: string; issues?: FieldIssue[] };

export interface RegistrationDeps {
  machines: MachineRepo;
  bmcs: BmcRepo;
  events: EventRepo;
  timeline: Timeline;
  cipher: CredentialCipher;
  settings: BmcClientSettings;
  metrics: CallMetrics;
  log: Logger;
}

/** `10.0.0.5`, `10.0.0.5:8443` or `https://bmc.example/redfish/v1` → `https://host[:port]`; http is refused. */
export function normalizeBmcAddress(raw: string): string | null {
  const text = /^[a-z][a-z0-9+.-]*:\/\//i.test(raw) ? raw : `https://${raw}`;
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return null;
  }
  if (url.protocol !== 'https:' || url.username !== '' || url.password !== '' || url.hostname === '') return null;
  return url.origin;
}

export async function registerBmc(input: unknown, deps: RegistrationDeps): Promise<RegistrationResult> {
  if (!Value.Check(BmcRegistrationSchema, input)) {
    // Field paths only: the values (a password among them) are never echoed.
    const issues = [...Value.Errors(BmcRegistrationSchema, input)].slice(0, 10).map((e) => ({ field: dottedPath(e.path) || '(body)', message: e.message }));
    return { ok: false, status: 422, code: 'RB_BMC_INVALID', message: 'the BMC registration has invalid fields', issues };
  }
  const reg = input;
  const address = normalizeBmcAddress(reg.address);
  if (address === null) return { ok: false, status: 422, code: 'RB_BMC_INVALID', message: 'address must be a host, host:port or an https:// URL', issues: [{ field: 'address', message: 'not an https BMC address' }] };

  let tls: RedfishTlsOptions;
  let seen: TofuInfo | undefined;
  if ('caBundle' in reg.tls) tls = { caBundle: reg.tls.caBundle };
  else if ('fingerprintSha256' in reg.tls) {
    try {
      tls = { pinSha256: normalizeFingerprint(reg.tls.fingerprintSha256) };
    } catch {
      return { ok: false, status: 422, code: 'RB_BMC_INVALID', message: 'tls.fingerprintSha256 must be 64 hex digits (colons optional)', issues: [{ field: 'tls.fingerprintSha256', message: 'not a SHA-256 fingerprint' }] };
    }
  } else tls = { allowTofu: true, onTofu: (info) => (seen = info) };

  // The machine does not exist yet: its calls are kept and written to its timeline once it does.
  const calls: RedfishCall[] = [];
  let inv: Inventory;
  let vendor: { id: string; product?: string; firmwareVersion?: string; generation?: number };
  let systemId: string;
  try {
    const bmc = await connectRedfish(clientOptions({ address, username: reg.username, password: reg.password, ...(reg.systemId === undefined ? {} : { systemId: reg.systemId }) }, tls, deps.settings, (c) => {
          calls.push(c);
          deps.metrics.externalCall('bmc', callOperation(c), c.status !== undefined && c.status < 400);
        }, deps.log));
    try {
      inv = await bmc.inventory();
      const v = bmc.vendor;
      vendor = { id: v.id, ...(v.product === undefined ? {} : { product: v.product }), ...(v.firmwareVersion === undefined ? {} : { firmwareVersion: v.firmwareVersion }), ...(v.generation === undefined ? {} : { generation: v.generation }) };
      systemId = bmc.system.id;
    } finally {
      await bmc.close();
    }
  } catch (err) {
    const code = isRedfishError(err) ? err.code : 'RB_BMC_UNREACHABLE';
    const status = code === 'RB_REDFISH_SYSTEM_AMBIGUOUS' || code === 'RB_REDFISH_SYSTEM_NOT_FOUND' ? 422 : 502;
    deps.log.warn({ address, code }, 'BMC registration failed');
    return { ok: false, status, code, message: `BMC ${address}: ${err instanceof Error ? err.message : String(err)}` };
  }

  const trust: BmcTrust =
    'caBundle' in reg.tls
      ? { mode: 'ca', caBundle: reg.tls.caBundle }
      : seen !== undefined
        ? { mode: 'tofu', fingerprintSha256: seen.fingerprintSha256, trustedAt: new Date().toISOString(), subject: seen.subject, issuer: seen.issuer }
        : { mode: 'pinned', fingerprintSha256: tls.pinSha256! };

  const found = await findExisting(deps.machines, inv);
  const fields = machineFields(inv, address, vendor.id);
  let machine: Machine;
  let created = false;
  try {
    if (found === null) {
      if (fields.macs.length === 0) return { ok: false, status: 422, code: 'RB_BMC_NO_MACS', message: `BMC ${address} reported no NIC MAC addresses; add the machine with its MACs first, then register its BMC` };
      const r = normalizeMachineInput({
        name: reg.name ?? defaultName(inv, address),
        ...fields,
        ...(reg.profile === undefined ? {} : { profile: reg.profile }),
        ...(reg.role === undefined ? {} : { role: reg.role }),
        ...(reg.rack === undefined ? {} : { rack: reg.rack }),
        ...(reg.tags === undefined ? {} : { tags: reg.tags }),
      });
      if (!r.ok) return { ok: false, status: 422, code: 'RB_BMC_INVENTORY_INVALID', message: `what BMC ${address} reported does not make a valid machine`, issues: r.issues };
      machine = await deps.machines.create(r.machine);
      created = true;
    } else {
      machine = await deps.machines.update(found.id, fillIn(found, fields, reg));
    }
  } catch (e) {
    if (e instanceof StoreError && e.code === 'RB_CONFLICT') return { ok: false, status: 409, code: 'RB_CONFLICT', message: e.message };
    throw e;
  }
  for (const mac of machine.macs) await deps.events.adoptByMac(mac, machine.id);

  const rec = await deps.bmcs.put({
    machineId: machine.id,
    address,
    username: reg.username,
    sealedPassword: deps.cipher.seal(reg.password, machine.id),
    systemId,
    vendor,
    trust,
    hardware: {
      ...(inv.system.manufacturer === undefined ? {} : { manufacturer: inv.system.manufacturer }),
      ...(inv.system.model === undefined ? {} : { model: inv.system.model }),
      ...(inv.system.serialNumber === undefined ? {} : { serial: inv.system.serialNumber }),
      ...(inv.boot.mode === undefined ? {} : { bootMode: inv.boot.mode }),
      gaps: inv.gaps,
    },
  });
  for (const c of calls) await deps.timeline.record(bmcCallEvent(machine.id, c));
  const how = trust.mode === 'tofu' ? `trusted on first use, SHA-256 ${trust.fingerprintSha256}` : trust.mode === 'pinned' ? 'pinned certificate' : 'CA-verified certificate';
  await deps.timeline.record({
    machineId: machine.id,
    mac: null,
    source: 'bmc',
    kind: 'bmc.registered',
    outcome: 'info',
    message: `${created ? 'machine created' : 'machine filled in'} from BMC ${address} (${vendor.product ?? vendor.id}, system ${systemId}, ${how})`,
    detail: { address, systemId, vendor: vendor.id, trust: trust.mode, macs: machine.macs.length, disks: machine.disks.length },
  });
  return { ok: true, created, machine, bmc: publicBmc(rec) };
}

async function findExisting(machines: MachineRepo, inv: Inventory): Promise<Machine | null> {
  if (inv.system.uuid !== undefined) {
    const m = await machines.findByUuid(inv.system.uuid);
    if (m !== null) return m;
  }
  for (const mac of inv.macs) {
    const m = await machines.findByMac(mac);
    if (m !== null) return m;
  }
  return null;
}

interface ReadFields {
  macs: string[];
  smbiosUuid?: string;
  serial?: string;
  firmware?: 'uefi' | 'bios';
  disks: MachineDisk[];
  bmc: { address: string; vendor: string };
}

function machineFields(inv: Inventory, address: string, vendor: string): ReadFields {
  const disks: MachineDisk[] = [];
  for (const d of inv.drives) {
    // Only names udev will really create are usable as install targets; drives without one are left out.
    const hint = d.byIdHints.find((h) => /^[^\s/]+$/.test(h));
    if (hint === undefined || disks.some((x) => x.path.endsWith(`/${hint}`))) continue;
    disks.push({
      path: `/dev/disk/by-id/${hint}`,
      ...(d.capacityBytes === undefined ? {} : { sizeGb: Math.round(d.capacityBytes / 1e9) }),
      ...(d.model === undefined ? {} : { model: d.model.slice(0, 128) }),
      ...(d.serialNumber === undefined ? {} : { serial: d.serialNumber.slice(0, 128) }),
    });
  }
  const mode = inv.boot.mode?.toLowerCase();
  const serial = inv.system.serialNumber ?? inv.chassis?.serialNumber;
  return {
    macs: inv.macs.slice(0, 16),
    ...(inv.system.uuid === undefined ? {} : { smbiosUuid: inv.system.uuid }),
    ...(serial === undefined ? {} : { serial: serial.slice(0, 128) }),
    ...(mode === 'uefi' ? { firmware: 'uefi' as const } : mode === 'legacy' ? { firmware: 'bios' as const } : {}),
    disks: disks.slice(0, 64),
    bmc: { address, vendor },
  };
}

/** Operator-set values win; the BMC fills what is missing and adds MACs the machine lacks. */
function fillIn(m: Machine, f: ReadFields, reg: BmcRegistration) {
  const macs = [...m.macs, ...f.macs.filter((x) => !m.macs.includes(x))].slice(0, 16);
  return {
    macs,
    ...(m.smbiosUuid === null && f.smbiosUuid !== undefined ? { smbiosUuid: normalizeUuid(f.smbiosUuid) ?? m.smbiosUuid } : {}),
    ...(m.serial === null && f.serial !== undefined ? { serial: f.serial } : {}),
    ...(m.firmware === null && f.firmware !== undefined ? { firmware: f.firmware } : {}),
    ...(m.disks.length === 0 ? { disks: f.disks } : {}),
    ...(m.profile === null && reg.profile !== undefined ? { profile: reg.profile } : {}),
    ...(m.rack === null && reg.rack !== undefined ? { rack: reg.rack } : {}),
    bmc: f.bmc,
    ...(m.state === 'discovered' ? { state: 'ready' as const } : {}),
  };
}

function defaultName(inv: Inventory, address: string): string {
  const serial = (inv.system.serialNumber ?? inv.chassis?.serialNumber ?? '').replace(/[^A-Za-z0-9._-]/g, '');
  const base = serial !== '' ? `srv-${serial}` : `bmc-${new URL(address).host.replace(/[^A-Za-z0-9]/g, '-')}`;
  return base.slice(0, 63).replace(/[-.]+$/, '');
}
