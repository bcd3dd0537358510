import { listMachines, type MaasClient, type MaasMachine } from '../../../maas/index.js';
import type { MaasConfig } from '../../config/schema.js';
import { normalizeMac } from '../../inventory/identity.js';
import type { Machine, MachineMaas } from '../../inventory/machine.js';
import { normalizeMachineInput } from '../../inventory/normalize.js';
import { StoreError, type EventRepo, type MachineRepo } from '../../store/types.js';
import type { Timeline } from '../../timeline/recorder.js';

export interface SyncSummary {
  /** MAAS machines that matched the sync filter. */
  seen: number;
  created: string[];
  updated: string[];
  unchanged: number;
  /** MAAS machines that could not be imported, with why (name or MAC held by another machine...). */
  skipped: Array<{ systemId: string; hostname: string; reason: string }>;
}

export type SyncResult = { ok: true; summary: SyncSummary } | { ok: false; reason: string };

/** MACs MAAS knows for the machine: the boot interface first, so rackboot's first MAC is the PXE one. */
function macsOf(mm: MaasMachine): string[] {
  const out: string[] = [];
  for (const i of [mm.boot_interface, ...(mm.interface_set ?? [])]) {
    const mac = i?.mac_address === undefined || i.mac_address === null ? null : normalizeMac(i.mac_address);
    if (mac !== null && !out.includes(mac)) out.push(mac);
  }
  return out.slice(0, 16);
}

function archOf(a: string | null | undefined): 'x86_64' | 'arm64' | undefined {
  if (a === null || a === undefined) return undefined;
  if (a.startsWith('amd64/')) return 'x86_64';
  if (a.startsWith('arm64/')) return 'arm64';
  return undefined;
}

function maasRecord(mm: MaasMachine, keep: MachineMaas | null): MachineMaas {
  const r: MachineMaas = { systemId: mm.system_id };
  if (keep?.mode !== undefined) r.mode = keep.mode;
  if (mm.pool?.name) r.pool = mm.pool.name;
  if (mm.zone?.name) r.zone = mm.zone.name;
  if (mm.tag_names !== undefined) r.tags = [...mm.tag_names].sort().slice(0, 64);
  if (mm.power_type) r.powerType = mm.power_type;
  return r;
}

const same = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);

/**
 * Imports and refreshes machines from MAAS (MACs, tags, pool, zone, power type, system_id) with the
 * sync filter applied server-side. A machine is matched by its system_id, then by a MAC; rackboot's
 * own fields (profile, disks, network, lifecycle state) are never overwritten.
 */
export async function syncFromMaas(client: MaasClient, machines: MachineRepo, events: EventRepo, timeline: Timeline, cfg: MaasConfig): Promise<SyncResult> {
  const listed = await listMachines(client, {
    ...(cfg.sync.pool !== undefined ? { pool: cfg.sync.pool } : {}),
    ...(cfg.sync.zone !== undefined ? { zone: cfg.sync.zone } : {}),
    ...(cfg.sync.tags.length > 0 ? { tags: cfg.sync.tags } : {}),
  });
  if (!listed.ok) return { ok: false, reason: listed.error.message };
  const bySystemId = new Map<string, Machine>();
  for (const m of (await machines.list({ limit: 1_000_000 })).items) if (m.maas?.systemId !== undefined) bySystemId.set(m.maas.systemId, m);

  const summary: SyncSummary = { seen: listed.value.length, created: [], updated: [], unchanged: 0, skipped: [] };
  for (const mm of listed.value) {
    const macs = macsOf(mm);
    let cur = bySystemId.get(mm.system_id) ?? null;
    for (const mac of macs) cur ??= await machines.findByMac(mac);
    const skip = (reason: string) => summary.skipped.push({ systemId: mm.system_id, hostname: mm.hostname, reason });
    if (cur !== null && cur.maas?.systemId !== undefined && cur.maas.systemId !== mm.system_id) {
      skip(`a MAC belongs to rackboot machine '${cur.name}', linked to MAAS machine ${cur.maas.systemId}`);
      continue;
    }
    try {
      if (cur === null) {
        if (macs.length === 0) {
          skip('MAAS lists no MAC address for it');
          continue;
        }
        const arch = archOf(mm.architecture);
        const input: Record<string, unknown> = { name: mm.hostname, macs, maas: maasRecord(mm, null), ...(arch ? { arch } : {}), ...(cfg.sync.profile !== undefined ? { profile: cfg.sync.profile } : {}) };
        const n = normalizeMachineInput(input);
        if (!n.ok) {
          skip(n.issues.map((i) => `${i.field}: ${i.message}`).join('; '));
          continue;
        }
        const created = await machines.create(n.machine);
        for (const mac of created.macs) await events.adoptByMac(mac, created.id);
        await timeline.record({ machineId: created.id, mac: null, source: 'maas', kind: 'maas.imported', outcome: 'ok', message: `imported from MAAS machine ${mm.system_id} (${mm.hostname})`, detail: { systemId: mm.system_id, pool: mm.pool?.name ?? null, zone: mm.zone?.name ?? null } });
        summary.created.push(created.id);
        continue;
      }
      const maas = maasRecord(mm, cur.maas);
      const mergedMacs = [...cur.macs, ...macs.filter((m) => !cur.macs.includes(m))].slice(0, 16);
      if (same(maas, cur.maas) && same(mergedMacs, cur.macs)) {
        summary.unchanged++;
        continue;
      }
      await machines.update(cur.id, { maas, macs: mergedMacs });
      await timeline.record({ machineId: cur.id, mac: null, source: 'maas', kind: 'maas.synced', outcome: 'info', message: `refreshed from MAAS machine ${mm.system_id}`, detail: { before: cur.maas, after: maas, macs: mergedMacs } });
      summary.updated.push(cur.id);
    } catch (e) {
      if (e instanceof StoreError && e.code === 'RB_CONFLICT') skip(e.message);
      else throw e;
    }
  }
  return { ok: true, summary };
}
