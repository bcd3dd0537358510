import { Value } from '@sinclair/typebox/value';
import { isIpv4 } from '../net/ipv4.js';
import { dottedPath } from '../schema/issue-path.js';
import { normalizeMac, normalizeUuid } from './identity.js';
import { MachineInputSchema, type MachineInput, type NewMachine } from './machine.js';

export interface FieldIssue {
  field: string;
  message: string;
}

export type NormalizeResult = { ok: true; machine: NewMachine } | { ok: false; issues: FieldIssue[] };

/** Schema-checks operator input and turns it into the stored form (canonical MACs and UUID). */
export function normalizeMachineInput(input: unknown): NormalizeResult {
  const issues: FieldIssue[] = [];
  for (const e of Value.Errors(MachineInputSchema, input)) {
    issues.push({ field: dottedPath(e.path) || '(machine)', message: e.message });
    if (issues.length >= 10) break;
  }
  if (issues.length > 0) return { ok: false, issues };
  const m = input as MachineInput;

  const macs: string[] = [];
  m.macs.forEach((raw, i) => {
    const mac = normalizeMac(raw);
    if (mac === null) issues.push({ field: `macs.${i}`, message: `not a MAC address: '${raw}'` });
    else if (macs.includes(mac)) issues.push({ field: `macs.${i}`, message: `duplicate MAC ${mac}` });
    else macs.push(mac);
  });
  let smbiosUuid: string | null = null;
  if (m.smbiosUuid !== undefined) {
    smbiosUuid = normalizeUuid(m.smbiosUuid);
    if (smbiosUuid === null) issues.push({ field: 'smbiosUuid', message: `not a UUID: '${m.smbiosUuid}'` });
  }
  const net = m.network;
  if (net !== undefined) {
    for (const k of ['ip', 'gateway'] as const) {
      const v = net[k];
      if (v !== undefined && !isIpv4(v)) issues.push({ field: `network.${k}`, message: `not an IPv4 address: '${v}'` });
    }
    net.dns?.forEach((d, i) => {
      if (!isIpv4(d)) issues.push({ field: `network.dns.${i}`, message: `not an IPv4 address: '${d}'` });
    });
    if (net.ip !== undefined && net.prefix === undefined) issues.push({ field: 'network.prefix', message: 'required with network.ip' });
  }
  const disks = m.disks ?? [];
  const seenDisks = new Set<string>();
  disks.forEach((d, i) => {
    if (seenDisks.has(d.path)) issues.push({ field: `disks.${i}.path`, message: `duplicate disk ${d.path}` });
    seenDisks.add(d.path);
  });
  if (disks.filter((d) => d.role === 'os').length > 1) issues.push({ field: 'disks', message: 'more than one disk has role os' });
  if (issues.length > 0) return { ok: false, issues };

  return {
    ok: true,
    machine: {
      name: m.name,
      macs,
      smbiosUuid,
      serial: m.serial ?? null,
      arch: m.arch ?? null,
      firmware: m.firmware ?? null,
      role: m.role ?? null,
      rack: m.rack ?? null,
      tags: m.tags ?? [],
      network: net ?? null,
      disks,
      profile: m.profile ?? null,
      bmc: m.bmc ?? null,
      maas: m.maas ?? null,
      state: 'ready',
      discovery: null,
    },
  };
}
