import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import type { Machine } from '../inventory/machine.js';
import type { ApiTarget } from './api-client.js';
import { apiCall, apiOrFail, CliFailure, describeProblem, listAll, resolveMachine } from './api-call.js';
import { oneLine, since, structured, table, type Column, type OutputFormat } from './output.js';

const MACHINE_COLUMNS: Column<Machine>[] = [
  { title: 'name', value: (m) => m.name },
  { title: 'state', value: (m) => m.state },
  { title: 'age', value: (m) => since(m.stateEnteredAt) },
  { title: 'rack', value: (m) => m.rack ?? '-' },
  { title: 'role', value: (m) => m.role ?? '-' },
  { title: 'macs', value: (m) => m.macs.join(',') },
  { title: 'bmc', value: (m) => (m.bmc ? m.bmc.address : m.maas ? `maas:${m.maas.systemId}` : '-') },
];

export interface ListFilter {
  state?: string;
  rack?: string;
  tag?: string;
  cluster?: string;
}

export async function listMachines(t: ApiTarget, filter: ListFilter, format: OutputFormat, out: NodeJS.WritableStream): Promise<number> {
  const query = Object.fromEntries(Object.entries(filter).filter(([, v]) => v !== undefined)) as Record<string, string>;
  const items = await listAll<Machine>(t, '/api/v1/machines', query);
  out.write(format === 'table' ? (items.length === 0 ? 'no machines\n' : table(items, MACHINE_COLUMNS)) : structured(items, format));
  return 0;
}

export async function showMachine(t: ApiTarget, nameOrId: string, format: OutputFormat, out: NodeJS.WritableStream): Promise<number> {
  const id = await resolveMachine(t, nameOrId);
  const m = await apiOrFail<Machine>(t, 'GET', `/api/v1/machines/${id}`);
  if (format !== 'table') {
    out.write(structured(m, format));
    return 0;
  }
  const rows: Array<[string, string | null]> = [
    ['name', m.name],
    ['id', m.id],
    ['state', `${m.state} (for ${since(m.stateEnteredAt)}, since ${m.stateEnteredAt})`],
    ['reason', m.stateReason],
    ['failed in', m.failedFrom],
    ['macs', m.macs.join(', ')],
    ['uuid', m.smbiosUuid],
    ['serial', m.serial],
    ['firmware', m.firmware === null ? null : `${m.firmware}${m.arch ? ` ${m.arch}` : ''}`],
    ['rack', m.rack],
    ['role', m.role],
    ['profile', m.profile],
    ['tags', m.tags.length > 0 ? m.tags.join(', ') : null],
    ['network', m.network === null ? null : Object.entries(m.network).map(([k, v]) => `${k}=${Array.isArray(v) ? v.join(',') : String(v)}`).join(' ')],
    ['disks', m.disks.length > 0 ? m.disks.map((d) => `${d.path}${d.role ? ` (${d.role})` : ''}`).join(', ') : null],
    ['bmc', m.bmc === null ? null : `${m.bmc.address}${m.bmc.vendor ? ` (${m.bmc.vendor})` : ''}`],
    ['maas', m.maas?.systemId ?? null],
    ['created', m.createdAt],
  ];
  for (const [k, v] of rows) if (v !== null && v !== '') out.write(`${`${k}:`.padEnd(10)} ${oneLine(v)}\n`);
  return 0;
}

export interface AddOptions {
  mac: string[];
  rack?: string;
  role?: string;
  profile?: string;
  tag?: string[];
  bmc?: string;
  bmcVendor?: string;
  firmware?: string;
  arch?: string;
}

export async function addMachine(t: ApiTarget, name: string, o: AddOptions, format: OutputFormat, out: NodeJS.WritableStream): Promise<number> {
  const body: Record<string, unknown> = { name, macs: o.mac };
  for (const k of ['rack', 'role', 'profile', 'firmware', 'arch'] as const) if (o[k] !== undefined) body[k] = o[k];
  if (o.tag !== undefined && o.tag.length > 0) body.tags = o.tag;
  if (o.bmc !== undefined) body.bmc = { address: o.bmc, ...(o.bmcVendor !== undefined ? { vendor: o.bmcVendor } : {}) };
  const m = await apiOrFail<Machine>(t, 'POST', '/api/v1/machines', { json: body });
  out.write(format === 'table' ? `added ${m.name} (${m.id}), state ${m.state}\n` : structured(m, format));
  return 0;
}

const IMPORT_TYPES: Record<string, string> = { '.csv': 'text/csv', '.yaml': 'application/yaml', '.yml': 'application/yaml' };

/** Sends an inventory file as it is: the server validates it all or nothing and names the bad lines. */
export async function importMachines(t: ApiTarget, file: string, formatHint: string | undefined, format: OutputFormat, out: NodeJS.WritableStream): Promise<number> {
  const type = formatHint !== undefined ? IMPORT_TYPES[`.${formatHint}`] : IMPORT_TYPES[extname(file).toLowerCase()];
  if (type === undefined) throw new CliFailure(`cannot tell the format of ${file}: name it .csv, .yaml or .yml, or pass --format csv|yaml`, 2);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    throw new CliFailure(`cannot read ${file}: ${(e as Error).message}`, 1);
  }
  const a = await apiCall<{ created: number; items: Machine[] }>(t, 'POST', '/api/v1/machines/import', { text, type });
  if (!a.ok) throw new CliFailure(`${file}: ${describeProblem(a.status, a.problem)}`, 1);
  if (format !== 'table') out.write(structured(a.body, format));
  else out.write(`imported ${a.body.created} machine${a.body.created === 1 ? '' : 's'}: ${a.body.items.map((m) => m.name).join(', ')}\n`);
  return 0;
}

export async function deleteMachine(t: ApiTarget, nameOrId: string, out: NodeJS.WritableStream): Promise<number> {
  const id = await resolveMachine(t, nameOrId);
  await apiOrFail<null>(t, 'DELETE', `/api/v1/machines/${id}`);
  out.write(`deleted ${nameOrId}\n`);
  return 0;
}
