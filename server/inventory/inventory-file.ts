import { LineCounter, parseDocument, isMap, isSeq, type Node } from 'yaml';
import { parseCsv } from './csv.js';

/** One machine record from an inventory file, in the API's input shape, with where it came from. */
export interface InventoryRecord {
  line: number;
  input: Record<string, unknown>;
}

export interface LineIssue {
  line: number;
  field: string;
  message: string;
}

export type InventoryParse = { ok: true; records: InventoryRecord[] } | { ok: false; issues: LineIssue[] };

export type InventoryFormat = 'csv' | 'yaml';

export const MAX_INVENTORY_RECORDS = 10_000;

// Spreadsheet columns teams already keep, mapped to the machine fields. Lists use ';' or whitespace.
const CSV_COLUMNS: Record<string, (v: string, into: Record<string, unknown>) => void> = {
  name: (v, o) => (o.name = v),
  hostname: (v, o) => (net(o).hostname = v),
  mac: addMacs,
  macs: addMacs,
  uuid: (v, o) => (o.smbiosUuid = v),
  smbios_uuid: (v, o) => (o.smbiosUuid = v),
  serial: (v, o) => (o.serial = v),
  arch: (v, o) => (o.arch = v),
  firmware: (v, o) => (o.firmware = v),
  role: (v, o) => (o.role = v),
  rack: (v, o) => (o.rack = v),
  tags: (v, o) => (o.tags = list(v)),
  profile: (v, o) => (o.profile = v),
  ip: (v, o) => (net(o).ip = v),
  prefix: (v, o) => (net(o).prefix = num(v)),
  gateway: (v, o) => (net(o).gateway = v),
  dns: (v, o) => (net(o).dns = list(v)),
  vlan: (v, o) => (net(o).vlan = num(v)),
  mtu: (v, o) => (net(o).mtu = num(v)),
  bmc_address: (v, o) => (sub(o, 'bmc').address = v),
  bmc_vendor: (v, o) => (sub(o, 'bmc').vendor = v),
  maas_system_id: (v, o) => (sub(o, 'maas').systemId = v),
  maas_mode: (v, o) => (sub(o, 'maas').mode = v),
};

function addMacs(v: string, o: Record<string, unknown>): void {
  o.macs = [...((o.macs as string[] | undefined) ?? []), ...list(v)];
}
function list(v: string): string[] {
  return v.split(/[;\s]+/).filter((s) => s !== '');
}
function num(v: string): number | string {
  return /^\d+$/.test(v) ? Number(v) : v;
}
function sub(o: Record<string, unknown>, key: string): Record<string, unknown> {
  return (o[key] ??= {}) as Record<string, unknown>;
}
function net(o: Record<string, unknown>): Record<string, unknown> {
  return sub(o, 'network');
}

export function parseInventory(text: string, format: InventoryFormat): InventoryParse {
  return format === 'csv' ? parseCsvInventory(text) : parseYamlInventory(text);
}

function parseCsvInventory(text: string): InventoryParse {
  const csv = parseCsv(text);
  if (!csv.ok) return { ok: false, issues: [{ line: csv.line, field: '', message: csv.message }] };
  const [header, ...rows] = csv.rows;
  if (header === undefined) return { ok: false, issues: [{ line: 1, field: '', message: 'the file is empty' }] };
  const columns = header.fields.map((h) => h.trim().toLowerCase().replace(/[\s-]+/g, '_'));
  const unknown = columns.filter((c) => /^mac\d+$/.test(c) === false && !(c in CSV_COLUMNS));
  if (unknown.length > 0) {
    return { ok: false, issues: [{ line: header.line, field: unknown.join(', '), message: `unknown column; known: ${Object.keys(CSV_COLUMNS).join(', ')}, mac1..macN` }] };
  }
  if (rows.length > MAX_INVENTORY_RECORDS) return { ok: false, issues: [{ line: 1, field: '', message: `more than ${MAX_INVENTORY_RECORDS} rows` }] };
  const issues: LineIssue[] = [];
  const records: InventoryRecord[] = [];
  for (const row of rows) {
    if (row.fields.length !== columns.length) {
      issues.push({ line: row.line, field: '', message: `${row.fields.length} fields, the header has ${columns.length}` });
      continue;
    }
    const input: Record<string, unknown> = {};
    row.fields.forEach((raw, i) => {
      const v = raw.trim();
      if (v === '') return;
      const col = columns[i]!;
      (CSV_COLUMNS[col] ?? CSV_COLUMNS.mac!)(v, input);
    });
    records.push({ line: row.line, input });
  }
  return issues.length > 0 ? { ok: false, issues } : { ok: true, records };
}

function parseYamlInventory(text: string): InventoryParse {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, uniqueKeys: true });
  if (doc.errors.length > 0) {
    return { ok: false, issues: doc.errors.slice(0, 10).map((e) => ({ line: e.linePos?.[0].line ?? 1, field: '', message: e.message.split('\n')[0]! })) };
  }
  let seq: Node | null = doc.contents as Node | null;
  if (isMap(seq)) seq = (seq.get('machines', true) as Node | undefined) ?? null;
  if (!isSeq(seq)) return { ok: false, issues: [{ line: 1, field: '', message: "expected a list of machines, or a mapping with a 'machines' list" }] };
  if (seq.items.length > MAX_INVENTORY_RECORDS) return { ok: false, issues: [{ line: 1, field: '', message: `more than ${MAX_INVENTORY_RECORDS} machines` }] };
  const records: InventoryRecord[] = [];
  const issues: LineIssue[] = [];
  for (const item of seq.items) {
    const line = lc.linePos((item as Node).range?.[0] ?? 0).line;
    const value: unknown = (item as Node).toJSON();
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      issues.push({ line, field: '', message: 'each machine must be a mapping' });
      continue;
    }
    records.push({ line, input: value as Record<string, unknown> });
  }
  return issues.length > 0 ? { ok: false, issues } : { ok: true, records };
}
