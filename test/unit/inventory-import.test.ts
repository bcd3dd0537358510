import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseCsv, type CsvResult } from '../../server/inventory/csv.js';
import { importMachines, type ImportResult } from '../../server/inventory/import-machines.js';
import { MAX_INVENTORY_RECORDS, parseInventory, type InventoryParse, type InventoryRecord, type LineIssue } from '../../server/inventory/inventory-file.js';
import type { Machine, NewMachine } from '../../server/inventory/machine.js';
import { normalizeMachineInput, type FieldIssue } from '../../server/inventory/normalize.js';
import { openSqliteStore } from '../../server/store/sqlite/sqlite-store.js';
import type { MachineRepo, Store } from '../../server/store/types.js';

const UUID = '00112233-4455-6677-8899-aabbccddeeff';
const UUID_SWAPPED = '33221100-5544-7766-8899-aabbccddeeff';

function rows(r: CsvResult): Array<[number, string[]]> {
  if (!r.ok) throw new Error(`expected ok, got line ${r.line}: ${r.message}`);
  return r.rows.map((x) => [x.line, x.fields]);
}

function records(r: InventoryParse): InventoryRecord[] {
  if (!r.ok) throw new Error(`expected ok, got ${JSON.stringify(r.issues)}`);
  return r.records;
}

function parseIssues(r: InventoryParse): LineIssue[] {
  if (r.ok) throw new Error('expected the inventory to be rejected');
  return r.issues;
}

function normIssues(input: unknown): FieldIssue[] {
  const r = normalizeMachineInput(input);
  if (r.ok) throw new Error('expected the machine to be rejected');
  return r.issues;
}

function importIssues(r: ImportResult): LineIssue[] {
  if (r.ok) throw new Error(`expected the import to be rejected, created ${r.created.length}`);
  return r.issues;
}

function created(r: ImportResult): Machine[] {
  if (!r.ok) throw new Error(`expected the import to succeed, got ${JSON.stringify(r.issues)}`);
  return r.created;
}

describe('parseCsv (RFC 4180)', () => {
  it('splits records and fields and numbers records from line 1', () => {
    expect(rows(parseCsv('a,b,c\n1,2,3\n'))).toEqual([
      [1, ['a', 'b', 'c']],
      [2, ['1', '2', '3']],
    ]);
  });

  it('accepts CRLF, LF and a missing final line break alike', () => {
    const want = [
      [1, ['a', 'b']],
      [2, ['x', 'y']],
    ];
    expect(rows(parseCsv('a,b\r\nx,y\r\n'))).toEqual(want);
    expect(rows(parseCsv('a,b\nx,y'))).toEqual(want);
    expect(rows(parseCsv('a,b\r\nx,y'))).toEqual(want);
  });

  it('handles quoted commas, doubled quotes and empty fields', () => {
    expect(rows(parseCsv('"a,b","say ""hi""",,""\n'))).toEqual([[1, ['a,b', 'say "hi"', '', '']]]);
    expect(rows(parseCsv('a,\n'))).toEqual([[1, ['a', '']]]);
    expect(rows(parseCsv(',\n'))).toEqual([[1, ['', '']]]);
  });

  it('keeps line breaks inside quotes and still numbers later records by their physical line', () => {
    const r = rows(parseCsv('h1,h2\n"multi\nline\nnote",2\nnext,3\n'));
    expect(r).toEqual([
      [1, ['h1', 'h2']],
      [2, ['multi\nline\nnote', '2']],
      [5, ['next', '3']],
    ]);
    expect(rows(parseCsv('h\r\n"a\r\nb"\r\nc\r\n'))).toEqual([
      [1, ['h']],
      [2, ['a\r\nb']],
      [4, ['c']],
    ]);
  });

  it('skips blank lines but counts them, and keeps a lone quoted empty field as a record', () => {
    expect(rows(parseCsv('a\n\n\nb\n'))).toEqual([
      [1, ['a']],
      [4, ['b']],
    ]);
    expect(rows(parseCsv('a\n""\n'))).toEqual([
      [1, ['a']],
      [2, ['']],
    ]);
    expect(rows(parseCsv(''))).toEqual([]);
  });

  it('strips a UTF-8 byte order mark from the first header', () => {
    expect(rows(parseCsv('\uFEFFname,mac\nx,y\n'))[0]).toEqual([1, ['name', 'mac']]);
  });

  it('reports malformed quoting with the line it is on', () => {
    expect(parseCsv('a,b\nx,y"z"\n')).toEqual({ ok: false, line: 2, message: 'a quote inside an unquoted field' });
    expect(parseCsv('a,b\n"x"y,z\n')).toEqual({ ok: false, line: 2, message: 'text after a closing quote' });
    expect(parseCsv('a,b\nc,d\n"open\nstill open\n')).toEqual({ ok: false, line: 3, message: 'unterminated quoted field' });
  });
});

describe('normalizeMachineInput', () => {
  it('stores canonical MACs and UUID and fills the optional fields', () => {
    const r = normalizeMachineInput({ name: 'node-1', macs: ['AA-BB-CC-DD-EE-01', 'aabb.ccdd.ee02'], smbiosUuid: `{${UUID.toUpperCase()}}` });
    expect(r).toEqual({
      ok: true,
      machine: {
        name: 'node-1',
        macs: ['aa:bb:cc:dd:ee:01', 'aa:bb:cc:dd:ee:02'],
        smbiosUuid: UUID,
        serial: null,
        arch: null,
        firmware: null,
        role: null,
        rack: null,
        tags: [],
        network: null,
        disks: [],
        profile: null,
        bmc: null,
        maas: null,
        state: 'ready',
        discovery: null,
      },
    });
  });

  it('keeps every optional field an operator supplies', () => {
    const input = {
      name: 'n2',
      macs: ['00:11:22:33:44:55'],
      serial: 'SN1',
      arch: 'arm64',
      firmware: 'uefi',
      role: 'control-plane',
      rack: 'r12',
      tags: ['gpu', 'zone:a'],
      network: { hostname: 'n2', ip: '10.0.0.5', prefix: 24, gateway: '10.0.0.1', dns: ['10.0.0.2'], vlan: 10, mtu: 9000 },
      profile: 'installer',
      bmc: { address: 'https://10.1.0.5', vendor: 'dell' },
      maas: { systemId: 'abc123' },
    };
    const r = normalizeMachineInput(input);
    expect(r.ok && r.machine).toMatchObject({ ...input, state: 'ready' });
  });

  it('requires a name and at least one MAC', () => {
    expect(normIssues({ macs: ['00:11:22:33:44:55'] }).map((i) => i.field)).toContain('name');
    expect(normIssues({ name: 'a' }).map((i) => i.field)).toContain('macs');
    expect(normIssues({ name: 'a', macs: [] }).map((i) => i.field)).toContain('macs');
  });

  it('rejects a non-object with a machine-level issue', () => {
    for (const input of [null, 'x', 3]) expect(normIssues(input)[0]!.field).toBe('(machine)');
  });

  it('names the offending field of a schema error, including unknown keys', () => {
    expect(normIssues({ name: '-bad', macs: ['00:11:22:33:44:55'] }).map((i) => i.field)).toEqual(['name']);
    expect(normIssues({ name: 'a', macs: ['00:11:22:33:44:55'], arch: 'sparc' }).map((i) => i.field)).toContain('arch');
    expect(normIssues({ name: 'a', macs: ['00:11:22:33:44:55'], colour: 'red' }).map((i) => i.field)).toContain('colour');
    expect(normIssues({ name: 'a', macs: ['00:11:22:33:44:55'], network: { vlan: 5000 } }).map((i) => i.field)).toEqual(['network.vlan']);
  });

  it('reports bad and duplicate MACs by index, comparing canonical forms', () => {
    const issues = normIssues({ name: 'a', macs: ['00:11:22:33:44:55', 'zz:11:22:33:44:55', '00-11-22-33-44-55'] });
    expect(issues).toEqual([
      { field: 'macs.1', message: "not a MAC address: 'zz:11:22:33:44:55'" },
      { field: 'macs.2', message: 'duplicate MAC 00:11:22:33:44:55' },
    ]);
  });

  it('rejects an invalid UUID', () => {
    expect(normIssues({ name: 'a', macs: ['00:11:22:33:44:55'], smbiosUuid: 'nope' })).toEqual([{ field: 'smbiosUuid', message: "not a UUID: 'nope'" }]);
  });

  it('checks network addresses and requires a prefix with an IP', () => {
    const issues = normIssues({ name: 'a', macs: ['00:11:22:33:44:55'], network: { ip: '10.0.0.300', gateway: '10.0.0.1', dns: ['10.0.0.2', '999.1.1.1'] } });
    expect(issues.map((i) => i.field)).toEqual(['network.ip', 'network.dns.1', 'network.prefix']);
  });
});

describe('parseInventory csv', () => {
  it('maps spreadsheet headers (any case, spaces or dashes) to machine fields', () => {
    const text = [
      'Name,MAC,SMBIOS UUID,Serial,Arch,Firmware,Role,Rack,Tags,Profile,Hostname,IP,Prefix,Gateway,DNS,VLAN,MTU,BMC-Address,bmc vendor,MAAS System ID',
      `n1,aa:bb:cc:dd:ee:01,${UUID},SN1,x86_64,uefi,worker,r1,gpu;ssd fast,installer,n1-host,10.0.0.5,24,10.0.0.1,10.0.0.2 10.0.0.3,10,9000,10.1.0.5,dell,sys1`,
    ].join('\n');
    expect(records(parseInventory(text, 'csv'))).toEqual([
      {
        line: 2,
        input: {
          name: 'n1',
          macs: ['aa:bb:cc:dd:ee:01'],
          smbiosUuid: UUID,
          serial: 'SN1',
          arch: 'x86_64',
          firmware: 'uefi',
          role: 'worker',
          rack: 'r1',
          tags: ['gpu', 'ssd', 'fast'],
          profile: 'installer',
          network: { hostname: 'n1-host', ip: '10.0.0.5', prefix: 24, gateway: '10.0.0.1', dns: ['10.0.0.2', '10.0.0.3'], vlan: 10, mtu: 9000 },
          bmc: { address: '10.1.0.5', vendor: 'dell' },
          maas: { systemId: 'sys1' },
        },
      },
    ]);
  });

  it('collects MACs from mac, macs and mac1..macN columns in column order', () => {
    const r = records(parseInventory('name,mac1,mac2,macs\nn1,00:00:00:00:00:01,00:00:00:00:00:02,00:00:00:00:00:03;00:00:00:00:00:04\n', 'csv'));
    expect(r[0]!.input.macs).toEqual(['00:00:00:00:00:01', '00:00:00:00:00:02', '00:00:00:00:00:03', '00:00:00:00:00:04']);
  });

  it('omits empty cells and trims values', () => {
    const r = records(parseInventory('name,mac,rack,ip\n  n1 , 00:00:00:00:00:01 ,,\n', 'csv'));
    expect(r[0]!.input).toEqual({ name: 'n1', macs: ['00:00:00:00:00:01'] });
  });

  it('keeps non-numeric numbers as text so validation reports them', () => {
    const r = records(parseInventory('name,mac,vlan\nn1,00:00:00:00:00:01,ten\n', 'csv'));
    expect(r[0]!.input.network).toEqual({ vlan: 'ten' });
  });

  it('rejects unknown columns on the header line, naming them', () => {
    const issues = parseIssues(parseInventory('name,mac,colour,size\nn1,00:00:00:00:00:01,red,4\n', 'csv'));
    expect(issues).toHaveLength(1);
    expect(issues[0]).toMatchObject({ line: 1, field: 'colour, size' });
    expect(issues[0]!.message).toMatch(/unknown column/);
  });

  it('reports every row whose field count differs from the header, by line', () => {
    const issues = parseIssues(parseInventory('name,mac\nn1,00:00:00:00:00:01\nn2\nn3,00:00:00:00:00:03,extra\n', 'csv'));
    expect(issues).toEqual([
      { line: 3, field: '', message: '1 fields, the header has 2' },
      { line: 4, field: '', message: '3 fields, the header has 2' },
    ]);
  });

  it('passes CSV syntax errors through with their line', () => {
    expect(parseIssues(parseInventory('name,mac\nn1,"00:00\n', 'csv'))).toEqual([{ line: 2, field: '', message: 'unterminated quoted field' }]);
  });

  it('rejects an empty file and returns no records for a header-only file', () => {
    expect(parseIssues(parseInventory('', 'csv'))).toEqual([{ line: 1, field: '', message: 'the file is empty' }]);
    expect(records(parseInventory('name,mac\n', 'csv'))).toEqual([]);
  });

  it('numbers records by the line they start on, after multi-line quoted cells and blank lines', () => {
    const r = records(parseInventory('name,mac,rack\nn1,00:00:00:00:00:01,"row\nA"\n\nn2,00:00:00:00:00:02,b\n', 'csv'));
    expect(r.map((x) => x.line)).toEqual([2, 5]);
  });

  it('refuses files over the record limit', () => {
    const text = `name,mac\n${'n,00:00:00:00:00:01\n'.repeat(MAX_INVENTORY_RECORDS + 1)}`;
    expect(parseIssues(parseInventory(text, 'csv'))[0]!.message).toMatch(/more than/);
  });
});

describe('parseInventory yaml', () => {
  it('reads a top-level list with each machine at the line it starts on', () => {
    const text = ['- name: a', '  macs: [aa:bb:cc:dd:ee:01]', '', '- name: b', '  macs:', '    - aa:bb:cc:dd:ee:02', ''].join('\n');
    expect(records(parseInventory(text, 'yaml'))).toEqual([
      { line: 1, input: { name: 'a', macs: ['aa:bb:cc:dd:ee:01'] } },
      { line: 4, input: { name: 'b', macs: ['aa:bb:cc:dd:ee:02'] } },
    ]);
  });

  it("reads a mapping with a 'machines' list", () => {
    const text = ['# rack 12', 'machines:', '  - name: a', '    macs: [aa:bb:cc:dd:ee:01]', '    network: { ip: 10.0.0.5, prefix: 24 }', ''].join('\n');
    expect(records(parseInventory(text, 'yaml'))).toEqual([{ line: 3, input: { name: 'a', macs: ['aa:bb:cc:dd:ee:01'], network: { ip: '10.0.0.5', prefix: 24 } } }]);
  });

  it('reports YAML syntax errors and duplicate keys with their line', () => {
    const dup = parseIssues(parseInventory('- name: a\n  macs: [aa:bb:cc:dd:ee:01]\n  name: b\n', 'yaml'));
    expect(dup[0]!.line).toBe(3);
    const syntax = parseIssues(parseInventory('- name: a\n  macs: [aa:bb:cc:dd:ee:01\n- name: b\n', 'yaml'));
    expect(syntax[0]!.line).toBeGreaterThanOrEqual(2);
    expect(syntax[0]!.message).not.toContain('\n');
  });

  it('rejects documents that are not a list of machines', () => {
    for (const text of ['name: a\n', 'machines: 3\n', '"just text"\n', '']) {
      expect(parseIssues(parseInventory(text, 'yaml'))[0]!.message, JSON.stringify(text)).toMatch(/expected a list of machines/);
    }
  });

  it('reports each list item that is not a mapping at its line', () => {
    expect(parseIssues(parseInventory('- name: a\n  macs: [aa:bb:cc:dd:ee:01]\n- just-a-string\n- [1, 2]\n', 'yaml'))).toEqual([
      { line: 3, field: '', message: 'each machine must be a mapping' },
      { line: 4, field: '', message: 'each machine must be a mapping' },
    ]);
  });

  it('refuses files over the record limit', () => {
    const text = '- {name: n, macs: [00:00:00:00:00:01]}\n'.repeat(MAX_INVENTORY_RECORDS + 1);
    expect(parseIssues(parseInventory(text, 'yaml'))[0]!.message).toMatch(/more than/);
  });
});

describe('importMachines', () => {
  let dir: string;
  let store: Store;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'rb-import-'));
    store = openSqliteStore(join(dir, 'rackboot.db'));
  });
  afterEach(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function total(): Promise<number> {
    return (await store.machines.list()).total;
  }

  async function existing(name: string, macs: string[], smbiosUuid: string | null = null): Promise<Machine> {
    const r = normalizeMachineInput({ name, macs, ...(smbiosUuid === null ? {} : { smbiosUuid }) });
    if (!r.ok) throw new Error(JSON.stringify(r.issues));
    return store.machines.create(r.machine);
  }

  it('creates every machine from a clean CSV, in canonical form', async () => {
    const ms = created(await importMachines(store.machines, `name,mac,uuid,tags\nn1,AA-BB-CC-DD-EE-01,${UUID.toUpperCase()},a;b\nn2,aabb.ccdd.ee02,,\n`, 'csv'));
    expect(ms.map((m) => [m.name, m.macs, m.smbiosUuid, m.tags, m.state])).toEqual([
      ['n1', ['aa:bb:cc:dd:ee:01'], UUID, ['a', 'b'], 'ready'],
      ['n2', ['aa:bb:cc:dd:ee:02'], null, [], 'ready'],
    ]);
    expect(await total()).toBe(2);
    expect((await store.machines.findByMac('aa:bb:cc:dd:ee:02'))?.name).toBe('n2');
  });

  it('creates every machine from a clean YAML file', async () => {
    const ms = created(await importMachines(store.machines, 'machines:\n  - name: y1\n    macs: [aa:bb:cc:dd:ee:11]\n  - name: y2\n    macs: [aa:bb:cc:dd:ee:12]\n', 'yaml'));
    expect(ms.map((m) => m.name)).toEqual(['y1', 'y2']);
    expect(await total()).toBe(2);
  });

  it('writes nothing when any row is invalid, and reports issues by line and field', async () => {
    const text = 'name,mac,ip\ngood1,aa:bb:cc:dd:ee:01,\nbad mac,zz:bb:cc:dd:ee:02,\ngood2,aa:bb:cc:dd:ee:03,\nbad-ip,aa:bb:cc:dd:ee:04,10.0.0.5\n';
    const issues = importIssues(await importMachines(store.machines, text, 'csv'));
    expect(issues.map((i) => [i.line, i.field])).toEqual([
      [3, 'name'],
      [5, 'network.prefix'],
    ]);
    expect(await total()).toBe(0);
  });

  it('reports a bad MAC on its row when the name is fine', async () => {
    const issues = importIssues(await importMachines(store.machines, 'name,mac1,mac2\nn1,aa:bb:cc:dd:ee:01,nope\n', 'csv'));
    expect(issues).toEqual([{ line: 2, field: 'macs.1', message: "not a MAC address: 'nope'" }]);
    expect(await total()).toBe(0);
  });

  it('passes parse errors through and writes nothing', async () => {
    const r = await importMachines(store.machines, 'name,mac,colour\nn1,aa:bb:cc:dd:ee:01,red\n', 'csv');
    expect(importIssues(r)[0]).toMatchObject({ line: 1, field: 'colour' });
    expect(await total()).toBe(0);
  });

  it('flags names, MACs and UUIDs repeated within the file on the later line, naming the first', async () => {
    const text = [
      'name,mac,uuid',
      `n1,aa:bb:cc:dd:ee:01,${UUID}`,
      'n2,aa:bb:cc:dd:ee:02,',
      'n1,aa:bb:cc:dd:ee:03,',
      'n4,AA-BB-CC-DD-EE-02,',
      `n5,aa:bb:cc:dd:ee:05,${UUID.toUpperCase()}`,
    ].join('\n');
    const issues = importIssues(await importMachines(store.machines, text, 'csv'));
    expect(issues).toEqual([
      { line: 4, field: 'name', message: "name 'n1' also appears on line 2" },
      { line: 5, field: 'macs.0', message: 'MAC aa:bb:cc:dd:ee:02 also appears on line 3' },
      { line: 6, field: 'smbiosUuid', message: `UUID ${UUID} also appears on line 2` },
    ]);
    expect(await total()).toBe(0);
  });

  it('treats a UUID repeated in the other byte order within the file as a duplicate of that line', async () => {
    const text = `name,mac,uuid\nn1,aa:bb:cc:dd:ee:01,${UUID}\nn2,aa:bb:cc:dd:ee:02,${UUID_SWAPPED}\n`;
    const issues = importIssues(await importMachines(store.machines, text, 'csv'));
    expect(issues).toHaveLength(1);
    expect(issues[0]).toMatchObject({ line: 3, field: 'smbiosUuid' });
    expect(issues[0]!.message).toMatch(/line 2/);
    expect(await total()).toBe(0);
  });

  it('flags rows that clash with machines already stored, naming the owner', async () => {
    await existing('old-1', ['aa:bb:cc:dd:ee:01'], UUID);
    await existing('old-2', ['aa:bb:cc:dd:ee:02']);
    const text = [
      'name,mac,uuid',
      'old-2,aa:bb:cc:dd:ee:10,',
      'new-1,AABB.CCDD.EE01,',
      `new-2,aa:bb:cc:dd:ee:11,${UUID_SWAPPED}`,
      'new-3,aa:bb:cc:dd:ee:12,',
    ].join('\n');
    const issues = importIssues(await importMachines(store.machines, text, 'csv'));
    expect(issues).toEqual([
      { line: 2, field: 'name', message: "a machine named 'old-2' already exists" },
      { line: 3, field: 'macs.0', message: "MAC aa:bb:cc:dd:ee:01 already belongs to machine 'old-1'" },
      { line: 4, field: 'smbiosUuid', message: "UUID already belongs to machine 'old-1'" },
    ]);
    expect(await total()).toBe(2);
    expect(await store.machines.findByName('new-3')).toBeNull();
  });

  it('sorts issues from all checks by line', async () => {
    await existing('taken', ['aa:bb:cc:dd:ee:99']);
    const text = 'name,mac\ntaken,aa:bb:cc:dd:ee:01\nbad name,aa:bb:cc:dd:ee:02\nn3,aa:bb:cc:dd:ee:01\n';
    const issues = importIssues(await importMachines(store.machines, text, 'csv'));
    expect(issues.map((i) => i.line)).toEqual([2, 3, 4]);
  });

  it('writes nothing when another writer takes a MAC between the check and the write', async () => {
    const racing: MachineRepo = Object.assign(Object.create(store.machines) as MachineRepo, {
      createMany: async (ms: NewMachine[]) => {
        await existing('intruder', ['aa:bb:cc:dd:ee:02']);
        return store.machines.createMany(ms);
      },
    });
    const issues = importIssues(await importMachines(racing, 'name,mac\nn1,aa:bb:cc:dd:ee:01\nn2,aa:bb:cc:dd:ee:02\n', 'csv'));
    expect(issues).toEqual([{ line: 0, field: '', message: "MAC aa:bb:cc:dd:ee:02 already belongs to machine 'intruder'" }]);
    expect((await store.machines.list()).items.map((m) => m.name)).toEqual(['intruder']);
  });

  it('rethrows store failures that are not conflicts', async () => {
    const broken: MachineRepo = Object.assign(Object.create(store.machines) as MachineRepo, {
      createMany: async () => {
        throw new Error('disk full');
      },
    });
    await expect(importMachines(broken, 'name,mac\nn1,aa:bb:cc:dd:ee:01\n', 'csv')).rejects.toThrow('disk full');
  });
});
