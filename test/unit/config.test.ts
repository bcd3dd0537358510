import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { NetworkInterfaceInfo } from 'node:os';
import * as os from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { ConfigError, loadConfigFile, validateConfig, type ConfigIssue, type ResolvedConfig } from '../../server/config/load.js';

// 'auto' address detection reads the host's interfaces; tests pin them so results do not depend on the machine.
vi.mock('node:os', async (importOriginal) => {
  const actual = await importOriginal<typeof import('node:os')>();
  return { ...actual, networkInterfaces: vi.fn(actual.networkInterfaces) };
});

const ADDR = '10.250.0.1';
let dir: string;

beforeAll(() => {
  dir = mkdtempSync(join(os.tmpdir(), 'rb-config-'));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});
afterEach(() => {
  vi.mocked(os.networkInterfaces).mockReset();
});

function ok(doc: Record<string, unknown>): ResolvedConfig {
  const r = validateConfig({ advertiseAddress: ADDR, ...doc }, dir);
  if (!r.ok) throw new Error(`expected a valid config, got ${JSON.stringify(r.issues)}`);
  return r.config;
}

function issues(doc: unknown): ConfigIssue[] {
  const r = validateConfig(doc, dir);
  if (r.ok) throw new Error('expected the config to be rejected');
  return r.issues;
}

function issuesWithAddr(doc: Record<string, unknown>): ConfigIssue[] {
  return issues({ advertiseAddress: ADDR, ...doc });
}

function paths(list: ConfigIssue[]): string[] {
  return list.map((i) => i.path);
}

function nic(address: string, internal: boolean, family: 'IPv4' | 'IPv6' = 'IPv4'): NetworkInterfaceInfo {
  return family === 'IPv4'
    ? { address, netmask: '255.255.255.0', family, mac: '02:00:00:00:00:01', internal, cidr: `${address}/24` }
    : { address, netmask: 'ffff:ffff:ffff:ffff::', family, mac: '02:00:00:00:00:01', internal, cidr: `${address}/64`, scopeid: 0 };
}

const SUBNET = { cidr: '10.250.0.0/24', gateway: '10.250.0.1', pool: { start: '10.250.0.100', end: '10.250.0.200' } };

describe('validateConfig defaults', () => {
  it('fills every documented default from an empty document', () => {
    const c = ok({});
    expect(c.log.level).toBe('info');
    expect(c.http).toEqual({ listen: '0.0.0.0', port: 8080 });
    expect(c.tftp).toEqual({
      enabled: true,
      listen: '0.0.0.0',
      port: 69,
      blockSizeMax: 1468,
      windowSizeMax: 16,
      timeoutMs: 1000,
      retries: 5,
      maxTransfers: 256,
      maxPerClient: 8,
    });
    expect(c.dhcp).toEqual({
      mode: 'proxy',
      listen: '0.0.0.0',
      port: 67,
      clientPort: 68,
      pxePort: 4011,
      unknownMachines: 'record',
      maxDiscovered: 1000,
      proxyStrategy: 'auto',
      subnets: [],
    });
    expect(c.boot).toEqual({ ipxeDir: 'auto', uefiBinary: 'snponly.efi', arm64Binary: 'snp-arm64.efi', scriptRetries: 5 });
    expect(c.profiles).toEqual({});
  });

  it('resolves dataDir and the artifact root against the given directory', () => {
    const c = ok({});
    expect(c.dataDir).toBe(join(dir, 'data'));
    expect(c.artifactsRoot).toBe(join(dir, 'data', 'artifacts'));
    const d = ok({ dataDir: 'state', artifacts: { root: 'images' } });
    expect(d.dataDir).toBe(join(dir, 'state'));
    expect(d.artifactsRoot).toBe(join(dir, 'images'));
    const e = ok({ dataDir: '/var/lib/rackboot' });
    expect(e.dataDir).toBe('/var/lib/rackboot');
    expect(e.artifactsRoot).toBe('/var/lib/rackboot/artifacts');
  });

  it('derives publicUrl from the advertised address and HTTP port unless set', () => {
    expect(ok({}).publicUrl).toBe(`http://${ADDR}:8080`);
    expect(ok({ http: { port: 9000 } }).publicUrl).toBe(`http://${ADDR}:9000`);
    expect(ok({ http: { publicUrl: 'https://boot.example.net' } }).publicUrl).toBe('https://boot.example.net');
    expect(ok({}).advertiseIp).toBe(ADDR);
  });

  it('keeps explicit values over defaults and does not modify the input document', () => {
    const doc = { advertiseAddress: ADDR, tftp: { port: 1069 }, dhcp: { mode: 'off' } };
    const snapshot = structuredClone(doc);
    const r = validateConfig(doc, dir);
    expect(r.ok && r.config.tftp.port).toBe(1069);
    expect(r.ok && r.config.tftp.blockSizeMax).toBe(1468);
    expect(r.ok && r.config.dhcp.mode).toBe('off');
    expect(doc).toEqual(snapshot);
  });

  it('applies subnet defaults to each listed subnet', () => {
    const c = ok({ dhcp: { mode: 'full', subnets: [{ cidr: '10.250.0.0/24' }] } });
    expect(c.dhcp.subnets[0]).toEqual({ cidr: '10.250.0.0/24', dns: [], ntp: [], leaseSeconds: 3600 });
  });

  it('applies profile defaults, so a profile needs only a kernel', () => {
    const c = ok({ profiles: { rescue: { kernel: 'rescue/vmlinuz' } }, boot: { defaultProfile: 'rescue' } });
    expect(c.profiles.rescue).toEqual({ kernel: 'rescue/vmlinuz', initrds: [], cmdline: '', method: 'netboot', userData: { template: 'kairos', users: [], ntpServers: [] } });
    expect(c.boot.defaultProfile).toBe('rescue');
  });
});

describe('validateConfig advertiseAddress auto', () => {
  it('uses the first non-internal IPv4 address', () => {
    vi.mocked(os.networkInterfaces).mockReturnValue({
      lo: [nic('127.0.0.1', true)],
      eth0: [nic('fe80::1', false, 'IPv6'), nic('192.0.2.10', false)],
    });
    const r = validateConfig({}, dir);
    expect(r.ok && r.config.advertiseIp).toBe('192.0.2.10');
    expect(r.ok && r.config.publicUrl).toBe('http://192.0.2.10:8080');
  });

  it('fails with a fix when only loopback and IPv6 exist', () => {
    vi.mocked(os.networkInterfaces).mockReturnValue({ lo: [nic('127.0.0.1', true)], eth0: [nic('fe80::1', false, 'IPv6')] });
    const list = issues({});
    expect(paths(list)).toEqual(['advertiseAddress']);
    expect(list[0]!.message).toMatch(/set it explicitly/);
  });
});

describe('validateConfig schema errors', () => {
  it('rejects a document that is not a mapping', () => {
    for (const doc of [null, 'text', 42, ['a']]) {
      expect(issues(doc)).toEqual([{ path: '', message: 'the config must be a YAML mapping' }]);
    }
  });

  it('names unknown keys by their dotted path, top level and nested', () => {
    expect(issuesWithAddr({ bogus: 1 })).toEqual([{ path: 'bogus', message: 'unknown key' }]);
    expect(issuesWithAddr({ http: { prot: 80 } })).toEqual([{ path: 'http.prot', message: 'unknown key' }]);
    expect(issuesWithAddr({ dhcp: { subnets: [{ cidr: '10.0.0.0/24', gw: '10.0.0.1' }] } })).toEqual([{ path: 'dhcp.subnets.0.gw', message: 'unknown key' }]);
  });

  it('lists the allowed values for enumerations', () => {
    expect(issuesWithAddr({ log: { level: 'loud' } })).toEqual([{ path: 'log.level', message: 'must be one of fatal, error, warn, info, debug, trace' }]);
    expect(issuesWithAddr({ dhcp: { mode: 'relay' } })).toEqual([{ path: 'dhcp.mode', message: 'must be one of proxy, full, off' }]);
    expect(issuesWithAddr({ boot: { uefiBinary: 'grub.efi' } })).toEqual([{ path: 'boot.uefiBinary', message: 'must be one of snponly.efi, ipxe.efi' }]);
  });

  it('reports wrong types and out-of-range numbers, one issue per key, all keys at once', () => {
    const list = issuesWithAddr({ http: { port: '8080' }, tftp: { blockSizeMax: 10, windowSizeMax: 65 }, boot: { scriptRetries: 0 } });
    expect(paths(list)).toEqual(['http.port', 'tftp.blockSizeMax', 'tftp.windowSizeMax', 'boot.scriptRetries']);
    expect(list[0]!.message).toMatch(/integer/);
    expect(list[1]!.message).toMatch(/512/);
    expect(list[2]!.message).toMatch(/64/);
    expect(new Set(paths(list)).size).toBe(list.length);
  });

  it('rejects malformed addresses', () => {
    expect(paths(issues({ advertiseAddress: '10.0.0.300' }))).toEqual(['advertiseAddress']);
    expect(paths(issuesWithAddr({ dhcp: { subnets: [{ cidr: '10.0.0.0/24', dns: ['8.8.8'] }] } }))).toEqual(['dhcp.subnets.0.dns.0']);
    expect(paths(issuesWithAddr({ dhcp: { subnets: [{ cidr: '10.0.0.0/24', gateway: '10.0.0.01a' }] } }))).toEqual(['dhcp.subnets.0.gateway']);
  });

  it('requires publicUrl to be scheme and host only, so boot URLs never contain //', () => {
    expect(paths(issuesWithAddr({ http: { publicUrl: 'http://boot.example.net/' } }))).toEqual(['http.publicUrl']);
    expect(paths(issuesWithAddr({ http: { publicUrl: 'http://boot.example.net/rb' } }))).toEqual(['http.publicUrl']);
    expect(paths(issuesWithAddr({ http: { publicUrl: 'ftp://boot.example.net' } }))).toEqual(['http.publicUrl']);
  });

  it('requires exactly one of kernel or appliance in every profile', () => {
    expect(paths(issuesWithAddr({ profiles: { a: { cmdline: 'x' } } }))).toEqual(['profiles.a']);
    expect(paths(issuesWithAddr({ profiles: { a: { kernel: 'k', appliance: 'iso' } } }))).toEqual(['profiles.a']);
    expect(paths(issuesWithAddr({ profiles: { a: { kernel: 'k', method: 'sanboot' } } }))).toEqual(['profiles.a.method']);
    expect(validateConfig({ advertiseAddress: '192.0.2.1', profiles: { a: { appliance: 'palette', method: 'http-iso' } } }, dir).ok).toBe(true);
    expect(paths(issuesWithAddr({ profiles: { a: { kernel: '' } } }))).toEqual(['profiles.a.kernel']);
    expect(paths(issuesWithAddr({ profiles: { a: null } }))).toEqual(['profiles.a']);
  });

  it('rejects profile names outside [A-Za-z0-9._-], since machines could never reference them', () => {
    for (const name of ['bad name', 'x\ny', 'a/b', '']) {
      const list = issuesWithAddr({ profiles: { [name]: { kernel: 'k' }, 'good-1.0_a': { kernel: 'k' } } });
      expect(paths(list), JSON.stringify(name)).toEqual([`profiles.${name}`]);
      expect(list[0]!.message).toMatch(/A-Za-z0-9/);
    }
    expect(Object.keys(ok({ profiles: { 'good-1.0_a': { kernel: 'k' } } }).profiles)).toEqual(['good-1.0_a']);
  });

  it('caps the number of reported issues', () => {
    const many = Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`k${i}`, i]));
    const list = issuesWithAddr(many);
    expect(list.length).toBeGreaterThan(0);
    expect(list.length).toBeLessThanOrEqual(20);
  });
});

describe('validateConfig cross-field rules', () => {
  it('requires boot.defaultProfile to name a configured profile', () => {
    expect(issuesWithAddr({ boot: { defaultProfile: 'missing' } })).toEqual([{ path: 'boot.defaultProfile', message: "no profile named 'missing' under profiles" }]);
    expect(ok({ boot: { defaultProfile: 'p' }, profiles: { p: { kernel: 'k', initrds: [], cmdline: '' } } }).boot.defaultProfile).toBe('p');
  });

  it('requires at least one subnet in full mode (not in proxy or off)', () => {
    expect(issuesWithAddr({ dhcp: { mode: 'full' } })).toEqual([{ path: 'dhcp.subnets', message: 'full mode needs at least one subnet' }]);
    expect(ok({ dhcp: { mode: 'proxy' } }).dhcp.subnets).toEqual([]);
    expect(ok({ dhcp: { mode: 'off' } }).dhcp.mode).toBe('off');
    expect(ok({ dhcp: { mode: 'full', subnets: [SUBNET] } }).dhcp.subnets[0]!.pool).toEqual(SUBNET.pool);
  });

  it('rejects a CIDR that is not a network', () => {
    for (const cidr of ['10.0.0.0/33', '10.0.0/24', '10.0.0.256/24', '1.2.3.4.5/8']) {
      const list = issuesWithAddr({ dhcp: { subnets: [{ cidr }] } });
      expect(list, cidr).toEqual([{ path: 'dhcp.subnets.0.cidr', message: `not an IPv4 network: ${cidr}` }]);
    }
    expect(paths(issuesWithAddr({ dhcp: { subnets: [{ cidr: '10.0.0.0' }] } }))).toEqual(['dhcp.subnets.0.cidr']);
  });

  it('rejects a gateway outside the subnet, naming the subnet index', () => {
    const list = issuesWithAddr({ dhcp: { subnets: [SUBNET, { cidr: '10.1.0.0/16', gateway: '10.2.0.1' }] } });
    expect(list).toEqual([{ path: 'dhcp.subnets.1.gateway', message: '10.2.0.1 is outside 10.1.0.0/16' }]);
    expect(ok({ dhcp: { subnets: [{ cidr: '10.1.0.0/16', gateway: '10.1.255.254' }] } }).dhcp.subnets[0]!.gateway).toBe('10.1.255.254');
  });

  it('rejects a pool that leaves the subnet at either end', () => {
    for (const pool of [
      { start: '10.250.1.10', end: '10.250.0.20' },
      { start: '10.250.0.10', end: '10.250.1.20' },
      { start: '192.168.0.1', end: '192.168.0.2' },
    ]) {
      const list = issuesWithAddr({ dhcp: { subnets: [{ cidr: '10.250.0.0/24', pool }] } });
      expect(list, JSON.stringify(pool)).toEqual([{ path: 'dhcp.subnets.0.pool', message: 'pool must lie inside 10.250.0.0/24' }]);
    }
  });

  it('rejects a pool whose start is after its end, and accepts a single-address pool', () => {
    expect(issuesWithAddr({ dhcp: { subnets: [{ cidr: '10.250.0.0/24', pool: { start: '10.250.0.200', end: '10.250.0.100' } }] } })).toEqual([
      { path: 'dhcp.subnets.0.pool', message: 'pool start is after pool end' },
    ]);
    // 10.250.0.9 > 10.250.0.10 as text but not as an address: the comparison must be numeric.
    expect(ok({ dhcp: { subnets: [{ cidr: '10.250.0.0/24', pool: { start: '10.250.0.9', end: '10.250.0.10' } }] } }).dhcp.subnets).toHaveLength(1);
    expect(ok({ dhcp: { subnets: [{ cidr: '10.250.0.0/24', pool: { start: '10.250.0.50', end: '10.250.0.50' } }] } }).dhcp.subnets).toHaveLength(1);
  });

  it('reports every cross-field problem together', () => {
    const list = issuesWithAddr({
      boot: { defaultProfile: 'nope' },
      dhcp: { mode: 'full', subnets: [{ cidr: '10.0.0.0/24', gateway: '10.0.1.1', pool: { start: '10.0.0.20', end: '10.0.0.10' } }] },
    });
    expect(paths(list)).toEqual(['boot.defaultProfile', 'dhcp.subnets.0.gateway', 'dhcp.subnets.0.pool']);
  });
});

describe('loadConfigFile', () => {
  function file(name: string, text: string): string {
    const p = join(dir, name);
    writeFileSync(p, text);
    return p;
  }

  async function rejection(p: string | undefined): Promise<ConfigError> {
    const e: unknown = await loadConfigFile(p, { cwd: dir }).then(
      () => null,
      (err: unknown) => err,
    );
    if (!(e instanceof ConfigError)) throw new Error(`expected a ConfigError, got ${String(e)}`);
    return e;
  }

  it('loads a YAML file, applying defaults and resolving paths against cwd', async () => {
    const p = file(
      'good.yaml',
      [
        `advertiseAddress: ${ADDR}`,
        'dataDir: ./state',
        'dhcp:',
        '  mode: full',
        '  subnets:',
        '    - cidr: 10.250.0.0/24',
        '      gateway: 10.250.0.1',
        '      pool: { start: 10.250.0.100, end: 10.250.0.200 }',
        'profiles:',
        '  installer:',
        '    kernel: installer/vmlinuz',
        '    initrds: [installer/initrd.img]',
        '    cmdline: console=ttyS0',
        'boot:',
        '  defaultProfile: installer',
        '',
      ].join('\n'),
    );
    const c = await loadConfigFile(p, { cwd: dir });
    expect(c.dataDir).toBe(join(dir, 'state'));
    expect(c.artifactsRoot).toBe(join(dir, 'state', 'artifacts'));
    expect(c.dhcp.subnets[0]).toMatchObject({ cidr: '10.250.0.0/24', leaseSeconds: 3600, pool: { start: '10.250.0.100', end: '10.250.0.200' } });
    expect(c.profiles.installer).toEqual({ kernel: 'installer/vmlinuz', initrds: ['installer/initrd.img'], cmdline: 'console=ttyS0', method: 'netboot', userData: { template: 'kairos', users: [], ntpServers: [] } });
    expect(c.http.port).toBe(8080);
  });

  it('treats an empty file as all defaults', async () => {
    vi.mocked(os.networkInterfaces).mockReturnValue({ eth0: [nic('192.0.2.7', false)] });
    const c = await loadConfigFile(file('empty.yaml', ''), { cwd: dir });
    expect(c.advertiseIp).toBe('192.0.2.7');
    expect(c.dataDir).toBe(join(dir, 'data'));
  });

  it('uses defaults when no path is given', async () => {
    vi.mocked(os.networkInterfaces).mockReturnValue({ eth0: [nic('192.0.2.8', false)] });
    const c = await loadConfigFile(undefined, { cwd: dir });
    expect(c.publicUrl).toBe('http://192.0.2.8:8080');
  });

  it('fails with key paths and reasons for a schema-invalid file', async () => {
    const p = file('bad.yaml', `advertiseAddress: ${ADDR}\nhttp:\n  port: 70000\n  prot: 1\nlog:\n  level: chatty\n`);
    const e = await rejection(p);
    expect(e.code).toBe('RB_CONFIG_INVALID');
    expect(e.source).toBe(p);
    expect(paths(e.issues).sort()).toEqual(['http.port', 'http.prot', 'log.level']);
    expect(e.message).toContain(p);
    expect(e.message).toContain('http.prot: unknown key');
    expect(e.message).toContain('log.level: must be one of');
  });

  it('fails on cross-field problems in a file', async () => {
    const e = await rejection(file('cross.yaml', `advertiseAddress: ${ADDR}\ndhcp:\n  mode: full\n`));
    expect(e.issues).toEqual([{ path: 'dhcp.subnets', message: 'full mode needs at least one subnet' }]);
  });

  it('reports invalid YAML with its line number', async () => {
    const e = await rejection(file('broken.yaml', `advertiseAddress: ${ADDR}\nhttp:\n  port: 80\n   listen: [\n`));
    expect(e.issues).toHaveLength(1);
    expect(e.issues[0]!.path).toBe('');
    expect(e.issues[0]!.message).toMatch(/^not valid YAML \(line \d+\)/);
    expect(e.issues[0]!.message).not.toContain('\n');
  });

  it('rejects a YAML file whose top level is a list', async () => {
    const e = await rejection(file('list.yaml', '- a\n- b\n'));
    expect(e.issues).toEqual([{ path: '', message: 'the config must be a YAML mapping' }]);
  });

  it('reports a missing file as a ConfigError rather than a raw fs error', async () => {
    const missing = join(dir, 'nope.yaml');
    const e = await rejection(missing);
    expect(e.source).toBe(missing);
    expect(e.issues[0]!.message).toMatch(/^cannot read file: .*ENOENT/);
  });
});
