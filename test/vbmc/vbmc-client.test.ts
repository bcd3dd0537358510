import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectRedfish, isRedfishError, type RedfishMachine } from '../../redfish/index.js';
import { startVirtualBmc, type PersonalityId, type StartedBmc } from '../../vbmc/index.js';
import { selfSignedCertificate } from '../../vbmc/tls-cert.js';
import { startImageServer, type ImageServer } from './image-server.js';

// The virtual BMC driven by the real Redfish client, for every personality, without QEMU (the
// 'simulated' machine backend): discovery, inventory, sessions, power, boot override read-back and
// virtual media through each vendor's path.

interface Expect {
  vendor: string;
  systemId: string;
  secondSlot: boolean;
  cdTarget: string;
  insertMethod: string;
  https: boolean;
}

const CASES: Record<PersonalityId, Expect> = {
  generic: { vendor: 'generic', systemId: '1', secondSlot: true, cdTarget: 'Cd', insertMethod: 'InsertMedia', https: false },
  dell: { vendor: 'dell', systemId: 'System.Embedded.1', secondSlot: true, cdTarget: 'Cd', insertMethod: 'InsertMedia', https: false },
  'hpe-ilo5': { vendor: 'hpe', systemId: '1', secondSlot: false, cdTarget: 'Cd', insertMethod: 'HpeOem', https: false },
  'hpe-ilo6': { vendor: 'hpe', systemId: '1', secondSlot: false, cdTarget: 'Cd', insertMethod: 'InsertMedia', https: false },
  lenovo: { vendor: 'lenovo', systemId: '1', secondSlot: true, cdTarget: 'Cd', insertMethod: 'PATCH', https: false },
  supermicro: { vendor: 'supermicro', systemId: '1', secondSlot: false, cdTarget: 'UsbCd', insertMethod: 'InsertMedia', https: false },
  openbmc: { vendor: 'openbmc', systemId: 'system', secondSlot: true, cdTarget: 'Cd', insertMethod: 'InsertMedia', https: true },
};

const ISO = randomBytes(300_000);
const SEED = randomBytes(20_000);
const UUID = '9f2c1a4e-5b6d-4e7f-8a9b-0c1d2e3f4a01';

let images: ImageServer;
let secureImages: ImageServer;

beforeAll(async () => {
  images = await startImageServer({ 'appliance.iso': ISO, 'cidata.iso': SEED });
  secureImages = await startImageServer({ 'appliance.iso': ISO, 'cidata.iso': SEED }, { tls: selfSignedCertificate('images', ['127.0.0.1']) });
});
afterAll(async () => {
  await images.close();
  await secureImages.close();
});

async function start(personality: PersonalityId, extra: { faults?: object } = {}): Promise<StartedBmc> {
  return startVirtualBmc({
    name: `t-${personality}`,
    personality,
    username: 'admin',
    password: 'sekret-pw',
    ...extra,
    machine: {
      backend: 'simulated',
      uuid: UUID,
      serialNumber: 'SN-TEST-0001',
      memoryMb: 2048,
      cpus: 2,
      firmware: 'ovmf',
      nics: [{ mac: '52:54:00:AA:00:01' }, { mac: '52:54:00:aa:00:02' }],
      disks: [{ sizeMb: 8, serial: 'DISK0SERIAL' }],
    },
  } as Parameters<typeof startVirtualBmc>[0]);
}

async function connect(b: StartedBmc, opts: { retries?: number } = {}): Promise<RedfishMachine> {
  return connectRedfish({
    baseUrl: b.url,
    username: 'admin',
    password: 'sekret-pw',
    tls: { pinSha256: b.fingerprint256! },
    retryBaseDelayMs: 5,
    retryMaxDelayMs: 20,
    taskPollIntervalMs: 20,
    ...opts,
  });
}

describe.each(Object.entries(CASES) as [PersonalityId, Expect][])('vbmc personality %s through the redfish client', (personality, exp) => {
  let b: StartedBmc;
  let rf: RedfishMachine;
  beforeAll(async () => {
    b = await start(personality);
    rf = await connect(b);
  });
  afterAll(async () => {
    await rf?.close();
    await b?.close();
  });

  it('is detected as its vendor and reads the machine inventory', async () => {
    expect(rf.vendor.id).toBe(exp.vendor);
    expect(rf.system.id).toBe(exp.systemId);
    const inv = await rf.inventory();
    expect(inv.system.uuid?.toLowerCase()).toBe(UUID);
    expect(inv.system.serialNumber).toBe('SN-TEST-0001');
    expect(inv.macs.sort()).toEqual(['52:54:00:aa:00:01', '52:54:00:aa:00:02']);
    expect(inv.drives.map((d) => d.serialNumber)).toEqual(['DISK0SERIAL']);
    expect(inv.drives[0]?.capacityBytes).toBe(8 * 1024 * 1024);
    expect(inv.memoryGiB).toBe(2);
    expect(inv.cpu.count).toBe(2);
    expect(inv.powerState).toBe('Off');
    expect(inv.boot.mode).toBe('UEFI');
    expect(inv.secureBoot?.enabled).toBe(false);
    expect(inv.gaps).toEqual([]);
    expect(b.bmc.sessionCount).toBe(1);
  });

  it('applies a one-time PXE override at the next power-on and consumes it', async () => {
    const r = await rf.setOneTimeBoot('Pxe', 'UEFI');
    expect(r.target).toBe('Pxe');
    expect(b.machine.boot.enabled).toBe('Once');
    const on = await rf.powerOn();
    expect(on.changed).toBe(true);
    expect(b.machine.power).toBe('On');
    expect(b.machine.boots.at(-1)).toMatchObject({ device: 'net', override: 'Pxe', mode: 'UEFI' });
    expect(b.machine.boot.enabled).toBe('Disabled');
    expect((await rf.powerOn()).changed).toBe(false);
    // The guest reboots on its own: the persistent order (disk first) applies.
    await b.machine.simulateGuest('reboot');
    expect(b.machine.boots.at(-1)).toMatchObject({ device: 'disk', reason: 'guest-reboot' });
    await rf.powerOff({ force: true, wait: true, intervalMs: 10 });
    expect(b.machine.power).toBe('Off');
  });

  it('inserts virtual media through the vendor path, boots it once, and ejects', async () => {
    const src = exp.https ? secureImages : images;
    const res = await rf.insertMedia(src.url('appliance.iso'));
    expect(res.method).toBe(exp.insertMethod);
    expect(b.machine.media[0]?.image).toBe(src.url('appliance.iso'));
    expect(readFileSync(b.machine.media[0]!.file!).equals(ISO)).toBe(true);
    if (exp.secondSlot) {
      await rf.insertMedia(src.url('cidata.iso'), { slot: 'second' });
      expect(readFileSync(b.machine.media[1]!.file!).equals(SEED)).toBe(true);
    } else {
      await expect(rf.insertMedia(src.url('cidata.iso'), { slot: 'second' })).rejects.toMatchObject({ code: 'RB_REDFISH_UNSUPPORTED' });
    }
    const boot = await rf.setOneTimeBoot('Cd', 'UEFI');
    expect(boot.target).toBe(exp.cdTarget);
    await rf.powerOn();
    const rec = b.machine.boots.at(-1)!;
    expect(rec.device).toBe('cdrom');
    expect(rec.media[0]).toBe(src.url('appliance.iso'));
    const ejected = await rf.ejectMedia();
    expect(ejected.filter((e) => e.method !== 'already-empty').length).toBe(exp.secondSlot ? 2 : 1);
    expect(b.machine.media.every((m) => !m.inserted)).toBe(true);
    await rf.powerOff({ force: true });
  });
});

describe('vbmc sessions, ETags and quirks', () => {
  it('refuses bad credentials with 401 and deletes the session on close', async () => {
    const b = await start('generic');
    try {
      await expect(connectRedfish({ baseUrl: b.url, username: 'admin', password: 'wrong', tls: { pinSha256: b.fingerprint256! }, retries: 0 })).rejects.toMatchObject({ code: 'RB_REDFISH_AUTH' });
      const rf = await connect(b);
      expect(b.bmc.sessionCount).toBe(1);
      await rf.close();
      expect(b.bmc.sessionCount).toBe(0);
    } finally {
      await b.close();
    }
  });

  it('enforces the session limit (Dell RAC0218)', async () => {
    const b = await startVirtualBmc({ name: 'lim', personality: 'dell', username: 'admin', password: 'sekret-pw', maxSessions: 1, machine: { backend: 'simulated', nics: [{ mac: '52:54:00:aa:00:09' }] } });
    try {
      const first = await connect(b);
      const err = await connect(b, { retries: 0 }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(isRedfishError(err)).toBe(true);
      expect(isRedfishError(err) && err.hasMessageId('RAC0218')).toBe(true);
      await first.close();
      const again = await connect(b);
      await again.close();
    } finally {
      await b.close();
    }
  });

  it('Lenovo: PATCH without If-Match is 428, a stale ETag is 412', async () => {
    const b = await start('lenovo');
    try {
      const auth = { Authorization: `Basic ${Buffer.from('admin:sekret-pw').toString('base64')}` };
      const get = await rawRequest(b, 'GET', '/redfish/v1/Systems/1', undefined, auth);
      const etag = get.headers['etag'] as string;
      expect(etag).toMatch(/^[0-9A-F]+$/);
      const body = { Boot: { BootSourceOverrideTarget: 'Pxe', BootSourceOverrideEnabled: 'Once' } };
      expect((await rawRequest(b, 'PATCH', '/redfish/v1/Systems/1', body, auth)).status).toBe(428);
      expect((await rawRequest(b, 'PATCH', '/redfish/v1/Systems/1', body, { ...auth, 'If-Match': 'DEADBEEF' })).status).toBe(412);
      expect((await rawRequest(b, 'PATCH', '/redfish/v1/Systems/1', body, { ...auth, 'If-Match': etag })).status).toBe(204);
      expect(b.machine.boot).toMatchObject({ target: 'Pxe', enabled: 'Once' });
    } finally {
      await b.close();
    }
  });

  it('Supermicro: a Boot PATCH without the mode answers 200 and reverts, which the client reads back', async () => {
    const b = await start('supermicro');
    try {
      const auth = { Authorization: `Basic ${Buffer.from('admin:sekret-pw').toString('base64')}` };
      const res = await rawRequest(b, 'PATCH', '/redfish/v1/Systems/1', { Boot: { BootSourceOverrideTarget: 'Pxe', BootSourceOverrideEnabled: 'Once' } }, auth);
      expect(res.status).toBe(200);
      expect(b.machine.boot).toMatchObject({ enabled: 'Disabled', mode: 'Legacy' });
      const rf = await connect(b);
      // The client always sends the full body to Supermicro, so the change sticks.
      await rf.setOneTimeBoot('Pxe', 'UEFI');
      expect(b.machine.boot).toMatchObject({ target: 'Pxe', enabled: 'Once', mode: 'UEFI' });
      await rf.close();
    } finally {
      await b.close();
    }
  });

  it('resumes an interrupted image download with a Range request', async () => {
    const b = await start('generic');
    try {
      const rf = await connect(b);
      images.cutNext('appliance.iso', 100_000);
      const before = images.requests.length;
      await rf.insertMedia(images.url('appliance.iso'));
      const reqs = images.requests.slice(before).filter((r) => r.path === 'appliance.iso');
      expect(reqs.length).toBe(2);
      expect(reqs[0]?.range).toBeUndefined();
      const resumedAt = Number(/^bytes=(\d+)-$/.exec(reqs[1]?.range ?? '')?.[1]);
      expect(resumedAt).toBeGreaterThan(0);
      expect(resumedAt).toBeLessThanOrEqual(100_000);
      expect(readFileSync(b.machine.media[0]!.file!).equals(ISO)).toBe(true);
      await rf.close();
    } finally {
      await b.close();
    }
  });

  it('answers a missing image with 400 and leaves the slot empty', async () => {
    const b = await start('generic');
    try {
      const rf = await connect(b);
      await expect(rf.insertMedia(images.url('nope.iso'))).rejects.toMatchObject({ status: 400 });
      expect(b.machine.media[0]!.inserted).toBe(false);
      await rf.close();
    } finally {
      await b.close();
    }
  });
});

describe('vbmc fault injection', () => {
  it('the client rides through 503s, 500s, latency, stale sessions and 412s', async () => {
    const b = await start('generic', { faults: { seed: 7, unavailableRate: 0.2, errorRate: 0.1, retryAfterSeconds: 0, latencyMinMs: 0, latencyMaxMs: 5, sessionExpiryRate: 0.1, preconditionRate: 0.3, methods: ['GET', 'PATCH'] } });
    try {
      const rf = await connect(b, { retries: 8 });
      const c = b.bmc.faults.counters;
      // Until every kind of fault has been seen at least once (bounded): each round must succeed.
      for (let i = 0; i < 40 && !(c.unavailable > 0 && c.error > 0 && c.sessionExpiry > 0 && c.precondition > 0); i++) {
        const inv = await rf.inventory();
        expect(inv.system.uuid).toBe(UUID);
        await rf.setOneTimeBoot(i % 2 === 0 ? 'Pxe' : 'Cd', 'UEFI');
        expect(b.machine.boot.target).toBe(i % 2 === 0 ? 'Pxe' : 'Cd');
      }
      expect(c.unavailable).toBeGreaterThan(0);
      expect(c.error).toBeGreaterThan(0);
      expect(c.sessionExpiry).toBeGreaterThan(0);
      expect(c.precondition).toBeGreaterThan(0);
      await rf.close();
    } finally {
      await b.close();
    }
  });

  it('a hang is seen by the client as a timeout, and faults change at runtime', async () => {
    const b = await start('generic');
    try {
      const rf = await connect(b);
      const put = await rawRequest(b, 'PUT', '/vbmc/faults', { hangRate: 1, methods: ['GET'] }, {});
      expect(put.status).toBe(200);
      const slow = await connectRedfish({ baseUrl: b.url, username: 'admin', password: 'sekret-pw', tls: { pinSha256: b.fingerprint256! }, timeoutMs: 300, retries: 0 }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(isRedfishError(slow, 'RB_REDFISH_TIMEOUT')).toBe(true);
      b.setFaults({});
      expect((await rf.inventory()).system.uuid).toBe(UUID);
      expect(b.bmc.faults.counters.hang).toBe(1);
      await rf.close();
    } finally {
      await b.close();
    }
  });
});

async function rawRequest(b: StartedBmc, method: string, path: string, body: unknown, headers: Record<string, string>): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  const https = await import('node:https');
  return new Promise((resolve, reject) => {
    const req = https.request(`${b.url}${path}`, { method, rejectUnauthorized: false, headers: { ...headers, ...(body === undefined ? {} : { 'Content-Type': 'application/json' }) } }, (res) => {
      let data = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (data += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: data }));
    });
    req.on('error', reject);
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}
