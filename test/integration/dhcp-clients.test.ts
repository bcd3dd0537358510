import { mkdtempSync, readFileSync, rmSync, writeFileSync, chmodSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLabNetns, labPrerequisiteProblems, type LabNetns } from '../lab/netns.js';
import { ProcessRegistry, waitUntil } from '../lab/processes.js';
import { bridgedHost } from '../support/bridged-host.js';
import { startRackbootInNetns, type RackbootInNetns } from '../support/rackboot-in-netns.js';

// rackboot in full mode, on the wire, against Debian's real DHCP clients on another host of the segment.

const problems = labPrerequisiteProblems(['ip', 'busybox', 'dhclient', 'curl']);
if (problems.length > 0 && process.env.CI) throw new Error(`prerequisites missing in CI: ${problems.join('; ')}`);

const CLIENT_MAC = '02:00:0a:fa:00:fe';

describe.skipIf(problems.length > 0 && !process.env.CI)('full-mode DHCP with real clients', () => {
  const registry = new ProcessRegistry();
  let work: string;
  let lab: LabNetns;
  let client: LabNetns;
  let rb: RackbootInNetns;
  let machineId: string;
  const config = () => ({
    advertiseAddress: '10.250.0.1',
    dataDir: join(work, 'data'),
    tftp: { enabled: false },
    dhcp: {
      mode: 'full',
      unknownMachines: 'ignore',
      subnets: [{ cidr: '10.250.0.0/24', gateway: '10.250.0.254', dns: ['10.250.0.53'], domain: 'rack.test', leaseSeconds: 900, pool: { start: '10.250.0.100', end: '10.250.0.110' } }],
    },
    profiles: { p: { kernel: 'k' } },
  });

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'rb-dhcp-clients-'));
    lab = await createLabNetns({ taps: 0 });
    client = await bridgedHost(lab, '10.250.0.250/24', CLIENT_MAC);
    rb = await startRackbootInNetns({ ns: lab, registry, workDir: work, config: config() });
    const r = await rb.api<{ id: string }>('POST', '/api/v1/machines', { type: 'application/json', data: JSON.stringify({ name: 'cp-1', macs: [CLIENT_MAC], profile: 'p' }) });
    expect(r.status).toBe(201);
    machineId = r.body.id;
    // udhcpc and dhclient scripts that only print what they were given; they configure nothing.
    writeFileSync(join(work, 'udhcpc.sh'), '#!/bin/sh\n[ "$1" = bound ] && env | grep -E "^(ip|subnet|router|dns|domain|serverid|siaddr|boot_file|lease|hostname)=" > "$OUT"\nexit 0\n');
    // dhclient gives its script a fresh environment, so the output path is written into the script.
    writeFileSync(join(work, 'dhclient.sh'), `#!/bin/sh\ncase "$reason" in BOUND|REBOOT|RENEW) env | grep -E "^new_" > ${join(work, 'dh.env')};; esac\nexit 0\n`);
    chmodSync(join(work, 'udhcpc.sh'), 0o755);
    chmodSync(join(work, 'dhclient.sh'), 0o755);
  });

  afterAll(async () => {
    await registry.stopAll();
    await client?.destroy();
    await lab?.destroy();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  async function udhcpc(out: string, extra: string[] = []): Promise<Record<string, string>> {
    await client.exec('busybox', ['udhcpc', '-i', client.bridge, '-f', '-q', '-n', '-t', '4', '-T', '2', '-s', join(work, 'udhcpc.sh'), ...extra], {
      env: { ...process.env, OUT: out },
      timeoutMs: 30_000,
    });
    return parseEnv(readFileSync(out, 'utf8'));
  }

  it('leases a known machine an address, router, DNS, domain and its name with busybox udhcpc', async () => {
    const env = await udhcpc(join(work, 'u1.env'));
    expect(env.ip).toMatch(/^10\.250\.0\.1(0\d|10)$/);
    expect(env.serverid).toBe('10.250.0.1');
    expect(env.router).toBe('10.250.0.254');
    expect(env.dns).toBe('10.250.0.53');
    expect(env.domain).toBe('rack.test');
    expect(env.hostname).toBe('cp-1');
    expect(env.lease).toBe('900');
  });

  it('gives udhcpc posing as UEFI PXE firmware the TFTP boot file and next-server', async () => {
    const env = await udhcpc(join(work, 'u2.env'), ['-V', 'PXEClient:Arch:00007:UNDI:003000', '-x', '0x5d:0007', '-x', '0x5e:010300', '-O', '66', '-O', '67']);
    expect(env.boot_file).toBe(`${CLIENT_MAC.replace(/:/g, '-')}/snponly.efi`);
    expect(env.siaddr).toBe('10.250.0.1');
  });

  it('leases the same address to ISC dhclient, and records the exchange on the timeline', async () => {
    const out = join(work, 'dh.env');
    const p = await registry.start({
      name: 'dhclient',
      ns: client,
      command: 'dhclient',
      args: ['-4', '-1', '-d', '-sf', join(work, 'dhclient.sh'), '-lf', join(work, 'dhclient.leases'), '-pf', join(work, 'dhclient.pid'), client.bridge],
      logFile: join(work, 'dhclient.log'),
    });
    const env = await waitUntil('dhclient to bind', () => existsSync(out) && parseEnv(readFileSync(out, 'utf8')), 30_000);
    await p.stop();
    const first = parseEnv(readFileSync(join(work, 'u1.env'), 'utf8'));
    expect(env.new_ip_address).toBe(first.ip);
    expect(env.new_routers).toBe('10.250.0.254');
    const events = await rb.api<{ items: Array<{ kind: string; detail?: { ip?: string } }> }>('GET', `/api/v1/machines/${machineId}/events`);
    expect(events.body.items.filter((e) => e.kind === 'dhcp.ack').length).toBeGreaterThanOrEqual(3);
    expect(events.body.items.every((e) => e.detail?.ip === undefined || e.detail.ip === first.ip)).toBe(true);
  }, 60_000);

  it('survives a flood of malformed packets on port 67 and still serves afterwards', async () => {
    const sock = await client.bindUdp(0, '10.250.0.250');
    let seed = 0x1234abcd;
    const rand = () => ((seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 2 ** 32);
    const valid = readFileSync(join(work, 'u1.env')); // any bytes; mutated below into packet-like garbage
    let sent = 0;
    for (let batch = 0; batch < 40; batch++) {
      await Promise.all(
        Array.from({ length: 250 }, () => {
          const len = Math.floor(rand() * 600);
          const b = Buffer.alloc(len);
          for (let i = 0; i < len; i++) b[i] = Math.floor(rand() * 256);
          if (len > 240 && rand() < 0.5) (b[0] = 1, b[1] = 1, b[2] = 6, b.writeUInt32BE(0x63825363, 236));
          if (len > 0 && rand() < 0.1) valid.copy(b, 0, 0, Math.min(len, valid.length));
          sent++;
          return new Promise<void>((r) => sock.send(b, 67, '10.250.0.1', () => r()));
        }),
      );
    }
    sock.close();
    expect(sent).toBe(10_000);
    expect(rb.process.isRunning()).toBe(true);
    const env = await udhcpc(join(work, 'u3.env'));
    expect(env.serverid).toBe('10.250.0.1');
  });

  it('sends every reply from the address in its option 54, even when the route prefers another source', async () => {
    // An unbound socket would now answer from 10.250.0.3; the server's sender is bound to 10.250.0.1.
    await lab.exec('ip', ['addr', 'add', '10.250.0.3/24', 'dev', lab.bridge]);
    await lab.exec('ip', ['route', 'replace', '255.255.255.255/32', 'dev', lab.bridge, 'src', '10.250.0.3']);
    const sock = await client.bindUdp(68, '0.0.0.0', { reuseAddr: true, broadcast: true });
    try {
      const mac = CLIENT_MAC.split(':').map((x) => parseInt(x, 16));
      const discover = Buffer.alloc(300);
      discover.writeUInt8(1, 0);
      discover.writeUInt8(1, 1);
      discover.writeUInt8(6, 2);
      discover.writeUInt32BE(0x5e7a0001, 4);
      discover.writeUInt16BE(0x8000, 10);
      Buffer.from(mac).copy(discover, 28);
      discover.writeUInt32BE(0x63825363, 236);
      Buffer.from([53, 1, 1, 255]).copy(discover, 240);
      const reply = new Promise<{ from: string; serverId: string }>((resolve) => {
        sock.on('message', (msg, rinfo) => {
          if (msg.length < 240 || msg.readUInt32BE(4) !== 0x5e7a0001) return;
          const i = msg.indexOf(Buffer.from([54, 4]), 240);
          resolve({ from: rinfo.address, serverId: Array.from(msg.subarray(i + 2, i + 6)).join('.') });
        });
      });
      await new Promise<void>((r) => sock.send(discover, 67, '255.255.255.255', () => r()));
      const got = await Promise.race([reply, new Promise<never>((_, rej) => setTimeout(() => rej(new Error('no OFFER within 10 s')), 10_000))]);
      expect(got.serverId).toBe('10.250.0.1');
      expect(got.from).toBe('10.250.0.1');
    } finally {
      sock.close();
      await lab.exec('ip', ['route', 'replace', '255.255.255.255/32', 'dev', lab.bridge]);
      await lab.exec('ip', ['addr', 'del', '10.250.0.3/24', 'dev', lab.bridge]);
    }
  });

  it('keeps the lease across a restart: init-reboot for the old address is ACKed', async () => {
    const before = parseEnv(readFileSync(join(work, 'u1.env'), 'utf8'));
    await rb.stop();
    rb = await startRackbootInNetns({ ns: lab, registry, workDir: work, config: config() });
    const env = await udhcpc(join(work, 'u4.env'), ['-r', before.ip!]);
    expect(env.ip).toBe(before.ip);
    // A server that forgot its leases would hand the same pool address to the next newcomer.
    await client.exec('ip', ['link', 'set', client.bridge, 'address', '02:00:0a:fa:00:fd']);
    const other = await udhcpc(join(work, 'u5.env'));
    expect(other.ip).toMatch(/^10\.250\.0\.1(0\d|10)$/);
    expect(other.ip).not.toBe(before.ip);
  });
});

function parseEnv(text: string): Record<string, string> {
  return Object.fromEntries(
    text
      .split('\n')
      .filter((l) => l.includes('='))
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  );
}
