import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { bundledBootAssets } from '../../server/boot/assets-path.js';
import { planBoot, type BootPlan } from '../../server/boot/boot-plan.js';
import { BootUrls, tftpBootName } from '../../server/boot/boot-urls.js';
import { profileVariables, renderIpxeScript } from '../../server/boot/ipxe-script.js';
import { loadOrCreateSecret, MachineTokens } from '../../server/boot/machine-tokens.js';
import { loadIpxeTemplates, Template, type IpxeTemplateName } from '../../server/boot/template.js';
import { validateConfig, type ResolvedConfig } from '../../server/config/load.js';
import type { Machine } from '../../server/inventory/machine.js';
import { MACHINE_STATES, type MachineState } from '../../server/lifecycle/states.js';

const PUBLIC = 'http://10.250.0.1:8080';
const NO_USER_DATA = { template: 'kairos', users: [], ntpServers: [] };
const ID = '6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b';

// Module level: several describe blocks render scripts while tests are being collected.
const dir = mkdtempSync(join(tmpdir(), 'rb-boot-'));
const templates: Record<IpxeTemplateName, Template> = await loadIpxeTemplates(join(bundledBootAssets(), 'templates'));
const tokens = new MachineTokens(Buffer.alloc(32, 7));
const urls = new BootUrls(PUBLIC, tokens);

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

function machine(extra: Partial<Machine> = {}): Machine {
  return {
    id: ID,
    name: 'node-1',
    macs: ['52:54:00:12:34:56', '52:54:00:12:34:57'],
    smbiosUuid: null,
    serial: null,
    arch: 'x86_64',
    firmware: 'uefi',
    role: null,
    rack: null,
    tags: [],
    network: null,
    disks: [],
    stateEnteredAt: '2026-01-01T00:00:00.000Z',
    stateReason: null, failedFrom: null,
    profile: null,
    bmc: null,
    maas: null,
    state: 'ready',
    discovery: null,
    tokenGeneration: 1,
    createdAt: '2024-01-01T00:00:00.000Z',
    updatedAt: '2024-01-01T00:00:00.000Z',
    ...extra,
  };
}

function config(doc: Record<string, unknown> = {}): ResolvedConfig {
  const r = validateConfig(
    {
      advertiseAddress: '10.250.0.1',
      dataDir: dir,
      profiles: {
        installer: { kernel: 'installer/vmlinuz', initrds: ['installer/initrd.img', 'installer/extra.cpio'], cmdline: 'console=ttyS0 rb.url={{phoneHomeUrl}}' },
        rescue: { kernel: 'http://mirror.example/rescue/vmlinuz', cmdline: '' },
      },
      ...doc,
    },
    dir,
  );
  if (!r.ok) throw new Error(JSON.stringify(r.issues));
  return r.config;
}

function netboot(cfg: ResolvedConfig, name: string): BootPlan {
  const profile = cfg.profiles[name];
  if (profile === undefined) throw new Error(`no profile ${name}`);
  return { kind: 'netboot', profileName: name, profile };
}

function lines(script: string): string[] {
  return script.split('\n');
}

describe('MachineTokens', () => {
  const m = { id: ID, tokenGeneration: 1 };

  it('derives a stable, URL-safe token from the machine id and generation', () => {
    const t = tokens.tokenFor(m);
    expect(t).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(tokens.tokenFor({ ...m })).toBe(t);
    expect(new MachineTokens(Buffer.alloc(32, 7)).tokenFor(m)).toBe(t);
  });

  it('gives different tokens for another generation, machine or secret', () => {
    const t = tokens.tokenFor(m);
    expect(tokens.tokenFor({ ...m, tokenGeneration: 2 })).not.toBe(t);
    expect(tokens.tokenFor({ ...m, id: '00000000-0000-4000-8000-000000000000' })).not.toBe(t);
    expect(new MachineTokens(Buffer.alloc(32, 8)).tokenFor(m)).not.toBe(t);
  });

  it('verifies only the current token: rotation revokes the old one', () => {
    const old = tokens.tokenFor(m);
    expect(tokens.verify(m, old)).toBe(true);
    const rotated = { ...m, tokenGeneration: 2 };
    expect(tokens.verify(rotated, old)).toBe(false);
    expect(tokens.verify(rotated, tokens.tokenFor(rotated))).toBe(true);
  });

  it('rejects wrong, truncated, extended and empty tokens without throwing', () => {
    const t = tokens.tokenFor(m);
    const flipped = (t[0] === 'A' ? 'B' : 'A') + t.slice(1);
    for (const bad of [flipped, t.slice(0, -1), `${t}A`, '', 'x'.repeat(500), 'é'.repeat(43)]) {
      expect(tokens.verify(m, bad), bad).toBe(false);
    }
  });
});

describe('loadOrCreateSecret', () => {
  it('creates a 32-byte secret readable only by its owner, then reuses it', async () => {
    const dataDir = join(dir, 'secret-new');
    const key = await loadOrCreateSecret(dataDir);
    expect(key.length).toBe(32);
    const path = join(dataDir, 'secrets', 'boot-token.key');
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(statSync(join(dataDir, 'secrets')).mode & 0o077).toBe(0);
    expect(readFileSync(path).equals(key)).toBe(true);
    const again = await loadOrCreateSecret(dataDir);
    expect(again.equals(key)).toBe(true);
  });

  it('creates different secrets for different data directories', async () => {
    const a = await loadOrCreateSecret(join(dir, 'secret-a'));
    const b = await loadOrCreateSecret(join(dir, 'secret-b'));
    expect(a.equals(b)).toBe(false);
  });

  it('refuses a secret file shorter than 32 bytes and leaves it in place', async () => {
    const dataDir = join(dir, 'secret-short');
    mkdirSync(join(dataDir, 'secrets'), { recursive: true });
    writeFileSync(join(dataDir, 'secrets', 'boot-token.key'), 'short');
    await expect(loadOrCreateSecret(dataDir)).rejects.toThrow(/shorter than 32 bytes/);
    expect(readFileSync(join(dataDir, 'secrets', 'boot-token.key'), 'utf8')).toBe('short');
  });

  it('propagates read errors other than a missing file', async () => {
    const dataDir = join(dir, 'secret-dir');
    mkdirSync(join(dataDir, 'secrets', 'boot-token.key'), { recursive: true });
    await expect(loadOrCreateSecret(dataDir)).rejects.toMatchObject({ code: 'EISDIR' });
  });
});

describe('BootUrls', () => {
  const m = machine();
  const token = tokens.tokenFor(m);

  it('puts the machine id and capability token in every URL', () => {
    expect(urls.base(m)).toBe(`${PUBLIC}/boot/${ID}/${token}`);
    expect(urls.script(m)).toBe(`${PUBLIC}/boot/${ID}/${token}/script.ipxe`);
    expect(urls.phoneHome(m)).toBe(`${PUBLIC}/boot/${ID}/${token}/phone-home`);
    expect(urls.firstStage(m, 'snponly.efi')).toBe(`${PUBLIC}/boot/${ID}/${token}/ipxe/snponly.efi`);
  });

  it('changes every URL when the token generation changes', () => {
    expect(urls.script({ ...m, tokenGeneration: 2 })).not.toBe(urls.script(m));
  });

  it('serves artifact paths under files/, encoding each segment and dropping leading slashes', () => {
    expect(urls.artifact(m, 'installer/vmlinuz')).toBe(`${PUBLIC}/boot/${ID}/${token}/files/installer/vmlinuz`);
    expect(urls.artifact(m, '//a b/c#d?e.iso')).toBe(`${PUBLIC}/boot/${ID}/${token}/files/a%20b/c%23d%3Fe.iso`);
  });

  it('uses absolute http(s) artifact URLs unchanged', () => {
    expect(urls.artifact(m, 'https://mirror.example/k')).toBe('https://mirror.example/k');
    expect(urls.artifact(m, 'http://mirror.example/k')).toBe('http://mirror.example/k');
  });

  it('builds TFTP names from the MAC so a transfer names its machine', () => {
    expect(tftpBootName('52:54:00:12:34:56', 'undionly.kpxe')).toBe('52-54-00-12-34-56/undionly.kpxe');
  });
});

describe('planBoot', () => {
  const cfg = config({ boot: { defaultProfile: 'installer' } });
  const noDefault = config();

  it('netboots a ready machine with its own profile, else the default', () => {
    expect(planBoot(machine({ profile: 'rescue' }), cfg)).toMatchObject({ kind: 'netboot', profileName: 'rescue', profile: cfg.profiles.rescue });
    expect(planBoot(machine(), cfg)).toMatchObject({ kind: 'netboot', profileName: 'installer' });
  });

  it('hands every post-install state to the local disk, never back to the installer', () => {
    const onDisk: MachineState[] = ['installed', 'host-ready', 'linked', 'content-synced', 'cluster-member', 'node-ready', 'enrolled'];
    for (const state of onDisk) {
      const plan = planBoot(machine({ state, profile: 'installer' }), cfg);
      expect(plan, state).toEqual({ kind: 'local-disk', reason: `state is ${state}` });
    }
  });

  it('sends a failed machine to its disk until it is re-provisioned', () => {
    expect(planBoot(machine({ state: 'failed', profile: 'installer' }), cfg)).toMatchObject({ kind: 'local-disk', reason: expect.stringMatching(/failed/) });
  });

  it('netboots the pre-install states', () => {
    for (const state of ['ready', 'provisioning', 'booting-installer', 'installing'] as const) {
      expect(planBoot(machine({ state }), cfg).kind, state).toBe('netboot');
    }
  });

  it('boots the disk, with a reason, when no profile applies', () => {
    expect(planBoot(machine(), noDefault)).toEqual({ kind: 'local-disk', reason: 'no boot profile assigned and no boot.defaultProfile' });
    expect(planBoot(machine({ profile: 'gone' }), cfg)).toEqual({ kind: 'local-disk', reason: "profile 'gone' is not configured" });
  });

  it('ignores discovered machines unless unknownMachines is boot', () => {
    expect(planBoot(machine({ state: 'discovered' }), cfg)).toEqual({ kind: 'ignore', reason: "discovered machine; unknownMachines is 'record'" });
    expect(planBoot(machine({ state: 'discovered' }), config({ dhcp: { unknownMachines: 'ignore' } })).kind).toBe('ignore');
    const boot = config({ boot: { defaultProfile: 'rescue' }, dhcp: { unknownMachines: 'boot' } });
    expect(planBoot(machine({ state: 'discovered' }), boot)).toMatchObject({ kind: 'netboot', profileName: 'rescue' });
  });

  it('has a plan for every lifecycle state', () => {
    for (const state of MACHINE_STATES) expect(['netboot', 'local-disk', 'ignore'], state).toContain(planBoot(machine({ state }), cfg).kind);
  });
});

describe('Template', () => {
  it('lists its placeholders and replaces every occurrence', () => {
    const t = new Template('t', '#!ipxe\necho {{a}} {{b}} {{a}}\n');
    expect([...t.placeholders].sort()).toEqual(['a', 'b']);
    expect(t.render({ a: '1', b: '2' })).toBe('#!ipxe\necho 1 2 1\n');
  });

  it('fails when a placeholder has no value', () => {
    expect(() => new Template('t', '{{a}} {{b}}').render({ a: '1' })).toThrow(/no value for \{\{b\}\}/);
  });

  it('rejects values with line breaks so a field cannot add script lines', () => {
    const t = new Template('t', 'echo {{a}}\n');
    expect(() => t.render({ a: 'x\nchain http://evil/' })).toThrow(/line break/);
    expect(() => t.render({ a: 'x\rshell' })).toThrow(/line break/);
    expect(() => t.render({ a: 'x\r\n' })).toThrow(/line break/);
  });

  it('allows line breaks only in *Lines placeholders', () => {
    expect(new Template('t', '{{initrdLines}}\nboot').render({ initrdLines: 'a\nb' })).toBe('a\nb\nboot');
  });

  it('inserts values literally: no re-expansion and no $ patterns', () => {
    const t = new Template('t', '{{a}}|{{b}}');
    expect(t.render({ a: '{{b}}', b: "$& $1 $$ $'" })).toBe("{{b}}|$& $1 $$ $'");
  });
});

describe('loadIpxeTemplates', () => {
  function templateDir(name: string, netboot: string, localDisk: string): string {
    const d = join(dir, name);
    mkdirSync(join(d, 'ipxe'), { recursive: true });
    writeFileSync(join(d, 'ipxe', 'netboot.ipxe'), netboot);
    writeFileSync(join(d, 'ipxe', 'local-disk.ipxe'), localDisk);
    writeFileSync(join(d, 'ipxe', 'sanboot.ipxe'), '#!ipxe\nsanboot {{isoUrl}} || exit 1\n');
    return d;
  }
  const goodLocal = '#!ipxe\necho {{name}} {{reason}}\nexit 1\n';

  it('loads the bundled templates', () => {
    expect(Object.keys(templates).sort()).toEqual(['local-disk', 'netboot', 'sanboot']);
    expect([...templates.sanboot.placeholders].sort()).toEqual(['isoUrl', 'name', 'retries']);
    expect([...templates.netboot.placeholders].sort()).toEqual(['cmdline', 'initrdLines', 'kernelUrl', 'name', 'profile', 'retries']);
    expect([...templates['local-disk'].placeholders].sort()).toEqual(['name', 'reason']);
  });

  it('loads an override directory', async () => {
    const d = templateDir('tpl-ok', '#!ipxe\nkernel {{kernelUrl}}\nboot\n', goodLocal);
    const t = await loadIpxeTemplates(d);
    expect(t.netboot.render({ kernelUrl: 'http://k' })).toBe('#!ipxe\nkernel http://k\nboot\n');
  });

  it('rejects unknown placeholders, naming them and the file', async () => {
    const d = templateDir('tpl-unknown', '#!ipxe\nkernel {{kernelUrl}} {{serial}}\n', goodLocal);
    await expect(loadIpxeTemplates(d)).rejects.toThrow(/netboot\.ipxe: unknown placeholders \{\{serial\}\}/);
    const d2 = templateDir('tpl-unknown-local', '#!ipxe\nkernel {{kernelUrl}}\n', '#!ipxe\necho {{profile}}\n');
    await expect(loadIpxeTemplates(d2)).rejects.toThrow(/local-disk\.ipxe: unknown placeholders \{\{profile\}\}/);
  });

  it('rejects a template that does not start with #!ipxe', async () => {
    const d = templateDir('tpl-shebang', 'kernel {{kernelUrl}}\n', goodLocal);
    await expect(loadIpxeTemplates(d)).rejects.toThrow(/must start with #!ipxe/);
  });

  it('fails when a template file is missing', async () => {
    const d = join(dir, 'tpl-missing');
    mkdirSync(join(d, 'ipxe'), { recursive: true });
    writeFileSync(join(d, 'ipxe', 'netboot.ipxe'), '#!ipxe\n');
    await expect(loadIpxeTemplates(d)).rejects.toMatchObject({ code: 'ENOENT' });
  });
});

describe('renderIpxeScript: netboot', () => {
  const cfg = config();
  const m = machine({ network: { hostname: 'n1-host' } });
  const base = urls.base(m);
  const script = renderIpxeScript(m, netboot(cfg, 'installer'), { templates, urls, retries: 5 });
  const ls = lines(script);
  const kernelLine = ls.find((l) => l.startsWith('kernel '));

  it('starts with #!ipxe and leaves no template placeholder behind', () => {
    expect(ls[0]).toBe('#!ipxe');
    expect(script).not.toMatch(/\{\{\w+\}\}/);
  });

  it('loads the kernel by name from the tokened artifact URL, with the expanded command line naming each initrd', () => {
    expect(kernelLine).toBe(
      `kernel --name kernel ${base}/files/installer/vmlinuz console=ttyS0 rb.url=${base}/phone-home initrd=initrd0 initrd=initrd1 || goto retry`,
    );
  });

  it('loads each initrd with --name initrdN, in profile order, after the kernel and before boot', () => {
    const k = ls.indexOf(kernelLine!);
    const i0 = ls.indexOf(`initrd --name initrd0 ${base}/files/installer/initrd.img || goto retry`);
    const i1 = ls.indexOf(`initrd --name initrd1 ${base}/files/installer/extra.cpio || goto retry`);
    const b = ls.indexOf('boot || goto retry');
    expect(k).toBeGreaterThan(0);
    expect(i0).toBeGreaterThan(k);
    expect(i1).toBeGreaterThan(i0);
    expect(b).toBeGreaterThan(i1);
  });

  it('retries from a clean image list a bounded number of times, then exits 1 so firmware tries the next device', () => {
    const fetch = ls.indexOf(':fetch');
    expect(fetch).toBeGreaterThan(0);
    expect(ls[fetch + 1]).toBe('imgfree');
    expect(fetch).toBeLessThan(ls.indexOf(kernelLine!));
    const retry = ls.indexOf(':retry');
    expect(retry).toBeGreaterThan(ls.indexOf('boot || goto retry'));
    expect(ls).toContain('set rb-tries:int32 0');
    expect(ls.slice(retry)).toContain('inc rb-tries');
    expect(ls.slice(retry)).toContain('iseq ${rb-tries} 5 && goto give_up ||');
    expect(ls.slice(retry)).toContain('goto fetch');
    const giveUp = ls.indexOf(':give_up');
    expect(giveUp).toBeGreaterThan(retry);
    expect(ls.slice(giveUp).filter((l) => l.trim() !== '').at(-1)).toBe('exit 1');
    expect(ls.filter((l) => /^(chain|sanboot)\b/.test(l))).toEqual([]);
  });

  it('uses the configured retry count', () => {
    const s = renderIpxeScript(m, netboot(cfg, 'installer'), { templates, urls, retries: 12 });
    expect(lines(s)).toContain('iseq ${rb-tries} 12 && goto give_up ||');
    expect(s).toContain('giving up after 12 attempts');
  });

  it('names the machine and profile in its comments and messages', () => {
    expect(script).toContain('network boot of node-1 (profile installer)');
    expect(script).toContain('echo rackboot: booting node-1 with profile installer');
  });

  it('uses an absolute kernel URL as given and adds no initrd= when the profile has none', () => {
    const s = renderIpxeScript(m, netboot(cfg, 'rescue'), { templates, urls, retries: 5 });
    // iPXE splits arguments on whitespace, so the empty command line's extra space is harmless.
    const k = lines(s).find((l) => l.startsWith('kernel '));
    expect(k?.split(/\s+/)).toEqual(['kernel', '--name', 'kernel', 'http://mirror.example/rescue/vmlinuz', '||', 'goto', 'retry']);
    expect(s).not.toContain('initrd');
  });

  it('expands the documented cmdline variables and leaves unknown ones for the operator to see', () => {
    const plan: BootPlan = {
      kind: 'netboot',
      profileName: 'custom',
      profile: { kernel: 'k', initrds: ['i'], cmdline: 'id={{machineId}} n={{name}} mac={{mac}} h={{hostname}} b={{baseUrl}} u={{unknownVar}}', userData: NO_USER_DATA, method: 'netboot' },
    };
    const k = lines(renderIpxeScript(m, plan, { templates, urls, retries: 5 })).find((l) => l.startsWith('kernel '));
    expect(k).toBe(`kernel --name kernel ${base}/files/k id=${ID} n=node-1 mac=52:54:00:12:34:56 h=n1-host b=${base} u={{unknownVar}} initrd=initrd0 || goto retry`);
  });

  it('falls back to the machine name for {{hostname}}', () => {
    expect(profileVariables(machine(), urls).hostname).toBe('node-1');
    expect(profileVariables(m, urls)).toEqual({
      machineId: ID,
      name: 'node-1',
      mac: '52:54:00:12:34:56',
      hostname: 'n1-host',
      baseUrl: base,
      phoneHomeUrl: `${base}/phone-home`,
      configUrl: `${base}/user-data`,
    });
  });

  it('refuses a profile command line that would add script lines', () => {
    const plan: BootPlan = { kind: 'netboot', profileName: 'evil', profile: { kernel: 'k', initrds: [], cmdline: 'quiet\nshell', userData: NO_USER_DATA, method: 'netboot' } };
    expect(() => renderIpxeScript(m, plan, { templates, urls, retries: 5 })).toThrow(/line break/);
  });

  it('carries the current token, so a rotated machine gets new URLs', () => {
    const rotated = { ...m, tokenGeneration: 2 };
    const s = renderIpxeScript(rotated, netboot(cfg, 'installer'), { templates, urls, retries: 5 });
    expect(s).toContain(urls.base(rotated));
    expect(s).not.toContain(base);
  });
});

describe('renderIpxeScript: local disk', () => {
  const m = machine({ state: 'installed' });
  const script = renderIpxeScript(m, { kind: 'local-disk', reason: 'state is installed' }, { templates, urls, retries: 5 });
  const ls = lines(script);

  it('exits 1 on EFI (firmware moves to the next boot entry) before trying the BIOS disk', () => {
    const efi = ls.indexOf('iseq ${platform} efi && exit 1 ||');
    const bios = ls.findIndex((l) => l.startsWith('sanboot --no-describe --drive 0x80'));
    expect(ls[0]).toBe('#!ipxe');
    expect(efi).toBeGreaterThan(0);
    expect(bios).toBeGreaterThan(efi);
    expect(ls[bios]).toBe('sanboot --no-describe --drive 0x80 || exit 1');
  });

  it('loads no kernel and states the reason', () => {
    expect(script).not.toMatch(/^(kernel|initrd|imgfetch|chain)\b/m);
    expect(script).toContain('echo rackboot: node-1: state is installed; booting from local disk');
    expect(script).not.toMatch(/\{\{\w+\}\}/);
  });

  it('is also what an ignored machine gets', () => {
    const s = renderIpxeScript(machine({ state: 'discovered' }), { kind: 'ignore', reason: 'unknown' }, { templates, urls, retries: 5 });
    expect(s).toContain('sanboot --no-describe --drive 0x80');
    expect(s).not.toMatch(/^kernel\b/m);
  });
});
