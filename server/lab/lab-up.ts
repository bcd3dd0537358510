// `rackboot lab up --machines N`: a whole rack on one Linux host. A private namespace with a bridge,
// N QEMU VMs each behind its own virtual BMC (vbmc, inside the namespace), rackboot in full DHCP mode
// in the namespace, the test appliance built and ingested, the machines registered by their BMCs and
// provisioned over PXE until they are `installed`. Everything it starts is recorded in <dir>/lab.json.

import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { ADMIN_TOKEN_FILE } from '../access/api-tokens.js';
import { BlobStore } from '../artifacts/blob-store.js';
import { ingestApplianceIso } from '../artifacts/ingest.js';
import { loadConfigFile } from '../config/load.js';
import { openSqliteStore } from '../store/sqlite/sqlite-store.js';
import { startApiForwarder } from './api-forwarder.js';
import { labDown } from './lab-down.js';
import { createLabNetwork, ip, LAB_BRIDGE, namespaceExists, type LabNetwork } from './lab-network.js';
import { isRecordedAlive, spawnInNamespace, type LabProcessRecord } from './lab-processes.js';
import { labPrerequisiteProblems } from './lab-prerequisites.js';
import { readLabState, writeLabState, type LabState } from './lab-state.js';
import { buildTestAppliance } from './test-appliance.js';

export interface LabUpOptions {
  machines: number;
  dir: string;
  namespace: string;
  /** Third octet of the lab subnet 10.250.<subnet>.0/24. */
  subnet: number;
  /** Host loopback port forwarded to rackboot's HTTP port in the namespace. */
  apiPort: number;
  /** Where the test appliance (and the kernel .deb it is made from) are cached. */
  cacheDir: string;
  memoryMb: number;
  timeoutSeconds: number;
}

type Out = Pick<NodeJS.WriteStream, 'write'>;

const APPLIANCE = 'test-appliance';
const PROFILE = 'lab-appliance';
const RACKBOOT_PORT = 8080;
const BMC_USER = 'admin';
const EXT = import.meta.url.endsWith('.ts') ? 'ts' : 'js';
const RACKBOOT_CLI = fileURLToPath(new URL(`../cli/main.${EXT}`, import.meta.url));
const VBMC_CLI = fileURLToPath(new URL(`../../vbmc/main.${EXT}`, import.meta.url));

export class LabError extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
  }
}

interface LabMachine {
  name: string;
  bmcName: string;
  bmcAddress: string;
  mac: string;
}

export async function labUp(o: LabUpOptions, out: Out): Promise<number> {
  const problems = labPrerequisiteProblems();
  if (problems.length > 0) throw new LabError(`the lab cannot run here:\n  ${problems.join('\n  ')}`, 2);
  const dir = resolve(o.dir);
  refuseIfUp(dir, o.namespace);
  // A new lab starts from nothing; these are what an earlier lab in this directory left (down keeps them).
  for (const old of ['data', 'vbmc', 'logs', 'vbmc.ready', 'rackboot.yaml', 'vbmc.yaml', 'lab-user-data.yaml']) rmSync(join(dir, old), { recursive: true, force: true });
  mkdirSync(join(dir, 'logs'), { recursive: true });
  const state: LabState = { version: 1, namespace: o.namespace, namespaceCreated: false, processes: [], createdAt: new Date().toISOString() };
  writeLabState(dir, state);
  const record = (p: LabProcessRecord) => {
    state.processes.push(p);
    writeLabState(dir, state);
  };
  let machines: LabMachine[];
  let api: LabApi;
  try {
    out.write(`building the test appliance (cached in ${o.cacheDir}) ...\n`);
    const appliance = await buildTestAppliance(resolve(o.cacheDir));
    const net = createLabNetwork({ namespace: o.namespace, subnet: o.subnet, taps: o.machines });
    state.namespaceCreated = true;
    writeLabState(dir, state);
    out.write(`namespace ${net.namespace}: bridge ${net.bridge} ${net.address}/24, ${net.taps.length} taps, no route out\n`);
    machines = net.taps.map((_, i) => ({
      name: `lab-node${i + 1}`,
      bmcName: `bmc${i + 1}`,
      // Each BMC gets its own address on the bridge, as on a rack's management network.
      bmcAddress: `10.250.${o.subnet}.${11 + i}`,
      mac: `52:54:00:e5:${o.subnet.toString(16).padStart(2, '0')}:${(i + 1).toString(16).padStart(2, '0')}`,
    }));
    for (const m of machines) ip(['-n', net.namespace, 'addr', 'add', `${m.bmcAddress}/24`, 'dev', LAB_BRIDGE]);

    const configFile = writeRackbootConfig(dir, net);
    const cfg = await loadConfigFile(configFile, { cwd: dir });
    await ingest(cfg.dataDir, cfg.artifactsRoot, appliance.isoPath);
    out.write(`appliance ISO ingested as artifact '${APPLIANCE}'\n`);

    record(
      spawnInNamespace({ name: 'rackboot', namespace: net.namespace, command: process.execPath, args: [...process.execArgv, RACKBOOT_CLI, 'serve', '--config', configFile], cwd: dir, logFile: join(dir, 'logs', 'rackboot.log') }).record,
    );
    record(
      await startApiForwarder({ namespace: net.namespace, localPort: o.apiPort, target: { host: net.address, port: RACKBOOT_PORT }, cwd: dir, logFile: join(dir, 'logs', 'api-forwarder.log') }),
    );
    state.apiUrl = `http://127.0.0.1:${o.apiPort}`;
    writeLabState(dir, state);
    api = new LabApi(state.apiUrl, join(cfg.dataDir, ADMIN_TOKEN_FILE));
    await waitFor('rackboot to answer', 90_000, async () => {
      assertRunning(state.processes[0]!);
      return api.healthy();
    });
    out.write(`rackboot serving in the namespace at http://${net.address}:${RACKBOOT_PORT}, forwarded to ${state.apiUrl}\n`);

    const password = randomBytes(12).toString('hex');
    const ready = join(dir, 'vbmc.ready');
    writeVbmcConfig(dir, machines, net, password, o.memoryMb, ready);
    const vbmc = spawnInNamespace({ name: 'vbmc', namespace: net.namespace, command: process.execPath, args: [...process.execArgv, VBMC_CLI, '--config', join(dir, 'vbmc.yaml')], cwd: dir, logFile: join(dir, 'logs', 'vbmc.log') });
    record(vbmc.record);
    await waitFor('the virtual BMCs to listen', 60_000, async () => {
      assertRunning(vbmc.record);
      return existsSync(ready);
    });
    const bmcs = (JSON.parse(readFileSync(ready, 'utf8')) as { bmcs: { name: string; url: string; fingerprint256: string }[] }).bmcs;
    out.write(`${bmcs.length} virtual BMCs up: ${bmcs.map((b) => b.url).join(' ')}\n`);

    for (const m of machines) {
      const b = bmcs.find((x) => x.name === m.bmcName);
      if (b === undefined) throw new Error(`vbmc did not report ${m.bmcName}`);
      const r = await api.call<{ machine: { name: string; macs: string[] } }>('POST', '/api/v1/bmcs', {
        address: b.url,
        username: BMC_USER,
        password,
        tls: { fingerprintSha256: b.fingerprint256 },
        name: m.name,
        profile: PROFILE,
        rack: 'lab',
      });
      out.write(`registered ${r.machine.name} by its BMC ${b.url} (MACs ${r.machine.macs.join(', ')})\n`);
    }
    const queued = await api.call<{ accepted: { name: string }[]; skipped: { name?: string; id: string; reason: string }[] }>('POST', '/api/v1/bmcs/provision', { method: 'pxe', machines: machines.map((m) => m.name) });
    if (queued.skipped.length > 0) throw new Error(`provisioning refused: ${queued.skipped.map((s) => `${s.name ?? s.id}: ${s.reason}`).join('; ')}`);
    out.write(`provisioning ${queued.accepted.length} machines through their BMCs (PXE) ...\n`);
  } catch (err) {
    out.write(`lab up failed: ${err instanceof Error ? err.message : String(err)}\ntearing down what was created ...\n`);
    await labDown(dir, out);
    return 1;
  }

  const final = await waitForInstalled(api, machines, o.timeoutSeconds, out);
  const tokenFile = api.tokenFile;
  out.write(
    [
      '',
      final.ok ? `rackboot lab is up: ${machines.length} machines installed` : `rackboot lab is up, but not every machine was installed: ${final.problem}`,
      `  dashboard:    ${state.apiUrl}/ui/ (sign in with the admin token)`,
      `  API:          ${state.apiUrl}/api/v1/machines (OpenAPI: ${state.apiUrl}/api/v1/openapi.json)`,
      `  admin token:  ${tokenFile}`,
      `  try:          rackboot machines list --server ${state.apiUrl} --token "$(cat ${tokenFile})"`,
      `  in the lab:   ip netns exec ${o.namespace} curl http://10.250.${o.subnet}.1:${RACKBOOT_PORT}/healthz`,
      `  logs:         ${join(dir, 'logs')}  VM consoles: ${join(dir, 'vbmc', '<bmc>', 'serial.log')}`,
      `  tear down:    rackboot lab down --dir ${dir}`,
      '',
    ].join('\n'),
  );
  return final.ok ? 0 : 1;
}

function refuseIfUp(dir: string, namespace: string): void {
  const prev = readLabState(dir);
  if (prev.ok) {
    const alive = prev.state.processes.filter(isRecordedAlive).map((p) => `${p.name} (pid ${p.pid})`);
    const what = [namespaceExists(prev.state.namespace) ? `namespace ${prev.state.namespace}` : '', ...alive].filter((s) => s !== '');
    throw new LabError(`a lab is already recorded in ${dir}${what.length > 0 ? ` (${what.join(', ')})` : ''}; run 'rackboot lab down --dir ${dir}' first`, 1);
  }
  if (prev.code === 'RB_LAB_STATE_INVALID') throw new LabError(`${prev.message}; remove it after checking nothing of that lab still runs`, 1);
  if (namespaceExists(namespace)) throw new LabError(`network namespace ${namespace} already exists and is not recorded in ${dir}; pick another --namespace`, 1);
}

function writeRackbootConfig(dir: string, net: LabNetwork): string {
  const prefix = net.address.slice(0, net.address.lastIndexOf('.'));
  const file = join(dir, 'rackboot.yaml');
  writeFileSync(
    file,
    stringify({
      advertiseAddress: net.address,
      dataDir: join(dir, 'data'),
      log: { level: 'info' },
      http: { port: RACKBOOT_PORT },
      dhcp: { mode: 'full', unknownMachines: 'record', subnets: [{ cidr: net.cidr, pool: { start: `${prefix}.100`, end: `${prefix}.199` }, leaseSeconds: 3600 }] },
      profiles: {
        [PROFILE]: { description: 'the locally built test appliance, netbooted', appliance: APPLIANCE, method: 'netboot', userData: { extraFile: join(dir, 'lab-user-data.yaml') } },
      },
    }),
  );
  // Machines registered by a BMC have no OS disk role in the inventory; every lab VM installs to its one virtio disk.
  writeFileSync(join(dir, 'lab-user-data.yaml'), stringify({ install: { device: '/dev/vda' } }));
  return file;
}

function writeVbmcConfig(dir: string, machines: LabMachine[], net: LabNetwork, password: string, memoryMb: number, readyFile: string): void {
  const file = join(dir, 'vbmc.yaml');
  writeFileSync(
    file,
    stringify({
      stateDir: join(dir, 'vbmc'),
      readyFile,
      bmcs: machines.map((m, i) => ({
        name: m.bmcName,
        listen: { host: m.bmcAddress, port: 443 },
        username: BMC_USER,
        password,
        machine: {
          uuid: randomUUID(),
          serialNumber: `LAB${String(i + 1).padStart(4, '0')}`,
          memoryMb,
          firmware: 'seabios',
          nics: [{ mac: m.mac, tap: net.taps[i] }],
          disks: [{ sizeMb: 64 }],
        },
      })),
    }),
    { mode: 0o600 },
  );
}

async function ingest(dataDir: string, artifactsRoot: string, iso: string): Promise<void> {
  mkdirSync(dataDir, { recursive: true });
  const store = openSqliteStore(join(dataDir, 'rackboot.db'));
  try {
    const r = await ingestApplianceIso(store.artifacts, new BlobStore(artifactsRoot), { path: iso, source: iso, name: APPLIANCE });
    if (!r.ok) throw new Error(`ingesting the appliance ISO: ${r.code}: ${r.reason}`);
  } finally {
    await store.close();
  }
}

function assertRunning(p: LabProcessRecord): void {
  if (!isRecordedAlive(p)) throw new Error(`${p.name} exited; see ${p.logFile}`);
}

async function waitFor(what: string, timeoutMs: number, probe: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

interface MachineView {
  name: string;
  state: string;
  stateReason: string | null;
}

async function waitForInstalled(api: LabApi, machines: LabMachine[], timeoutSeconds: number, out: Out): Promise<{ ok: true } | { ok: false; problem: string }> {
  const seen = new Map<string, string>();
  const deadline = Date.now() + timeoutSeconds * 1000;
  for (;;) {
    const list = await api.call<{ items: MachineView[] }>('GET', '/api/v1/machines?rack=lab&limit=1000').catch(() => ({ items: [] as MachineView[] }));
    for (const m of list.items) {
      if (seen.get(m.name) !== m.state) out.write(`${new Date().toISOString().slice(11, 19)} ${m.name}: ${m.state}${m.state === 'failed' && m.stateReason ? ` (${m.stateReason})` : ''}\n`);
      seen.set(m.name, m.state);
    }
    const failed = list.items.filter((m) => m.state === 'failed');
    if (failed.length > 0) return { ok: false, problem: failed.map((m) => `${m.name} failed: ${m.stateReason ?? 'no reason'}`).join('; ') };
    if (machines.every((m) => seen.get(m.name) === 'installed')) return { ok: true };
    if (Date.now() > deadline) return { ok: false, problem: `not all installed after ${timeoutSeconds} s` };
    await new Promise((r) => setTimeout(r, 2000));
  }
}

/** rackboot's API through the forwarded loopback port, with the admin token rackboot wrote at first start. */
class LabApi {
  constructor(
    readonly baseUrl: string,
    readonly tokenFile: string,
  ) {}

  async healthy(): Promise<boolean> {
    try {
      return (await fetch(`${this.baseUrl}/healthz`)).ok && existsSync(this.tokenFile);
    } catch {
      return false;
    }
  }

  async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const token = readFileSync(this.tokenFile, 'utf8').trim();
    const headers: Record<string, string> = { authorization: `Bearer ${token}` };
    if (body !== undefined) headers['content-type'] = 'application/json';
    const r = await fetch(`${this.baseUrl}${path}`, { method, headers, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
    const text = await r.text();
    if (!r.ok) throw new Error(`${method} ${path}: HTTP ${r.status}: ${text.slice(0, 500)}`);
    return JSON.parse(text) as T;
  }
}
