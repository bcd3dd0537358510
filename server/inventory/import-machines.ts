import type { Machine } from '../inventory/machine.js';
import { StoreError, type MachineRepo } from '../store/types.js';
import { swapUuidByteOrder } from './identity.js';
import { parseInventory, type InventoryFormat, type LineIssue } from './inventory-file.js';
import { normalizeMachineInput } from './normalize.js';
import type { NewMachine } from './machine.js';

export type ImportResult = { ok: true; created: Machine[] } | { ok: false; issues: LineIssue[] };

/**
 * Imports an inventory file all or nothing: every row is validated, checked against the other rows
 * and against the store, and only a clean file is written, in one transaction.
 */
export async function importMachines(repo: MachineRepo, text: string, format: InventoryFormat): Promise<ImportResult> {
  const parsed = parseInventory(text, format);
  if (!parsed.ok) return parsed;
  const issues: LineIssue[] = [];
  const ready: Array<{ line: number; machine: NewMachine }> = [];
  for (const rec of parsed.records) {
    const r = normalizeMachineInput(rec.input);
    if (!r.ok) issues.push(...r.issues.map((i) => ({ line: rec.line, ...i })));
    else ready.push({ line: rec.line, machine: r.machine });
  }
  const seen = new Map<string, number>();
  const claim = (key: string, line: number, field: string, what: string) => {
    const first = seen.get(key);
    if (first !== undefined) issues.push({ line, field, message: `${what} also appears on line ${first}` });
    else seen.set(key, line);
  };
  for (const { line, machine: m } of ready) {
    claim(`name:${m.name}`, line, 'name', `name '${m.name}'`);
    m.macs.forEach((mac, i) => claim(`mac:${mac}`, line, `macs.${i}`, `MAC ${mac}`));
    // The store matches a UUID in either byte order, so the file's duplicate check does too.
    if (m.smbiosUuid !== null) claim(`uuid:${[m.smbiosUuid, swapUuidByteOrder(m.smbiosUuid)].sort()[0]}`, line, 'smbiosUuid', `UUID ${m.smbiosUuid}`);
    if ((await repo.findByName(m.name)) !== null) issues.push({ line, field: 'name', message: `a machine named '${m.name}' already exists` });
    for (const [i, mac] of m.macs.entries()) {
      const owner = await repo.findByMac(mac);
      if (owner !== null) issues.push({ line, field: `macs.${i}`, message: `MAC ${mac} already belongs to machine '${owner.name}'` });
    }
    if (m.smbiosUuid !== null) {
      const owner = await repo.findByUuid(m.smbiosUuid);
      if (owner !== null) issues.push({ line, field: 'smbiosUuid', message: `UUID already belongs to machine '${owner.name}'` });
    }
  }
  if (issues.length > 0) return { ok: false, issues: issues.sort((a, b) => a.line - b.line) };
  try {
    return { ok: true, created: await repo.createMany(ready.map((r) => r.machine)) };
  } catch (e) {
    // A concurrent writer took a name or MAC between the check and the write; nothing was written.
    if (e instanceof StoreError) return { ok: false, issues: [{ line: 0, field: '', message: e.message }] };
    throw e;
  }
}
