// Test appliance for the QEMU lab (`rackboot lab up` and the e2e tests): Debian's kernel + a busybox initramfs that phones home, a tiny
// rootfs.squashfs, and a hybrid BIOS+UEFI ISO in the Kairos layout:
//   /boot/kernel  /boot/initrd  /rootfs.squashfs  /config.yaml  /boot/grub2/grub.cfg   volume id COS_LIVE
//   BIOS: isolinux (/isolinux/isolinux.cfg)   UEFI: GRUB standalone EFI in an El Torito ESP image
//
// The kernel is NOT installed: `apt-get download` fetches the current linux-image-<ver>-amd64 package (the one
// linux-image-amd64 depends on), `dpkg-deb --fsys-tarfile | tar` extracts vmlinuz and the NIC modules.
// Results are cached in <cacheDir>/test-appliance/<package>_<version>-<hash of the build inputs>/ and the .deb in
// <cacheDir>/kernel-debs/, so a re-run with the same kernel version does no download and no rebuild. If apt's
// package lists cannot be read (offline), the newest cached .deb is used.

import { spawn, type SpawnOptions } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import {
  copyFile,
  mkdir,
  readdir,
  readFile,
  rename,
  rm,
  stat,
  writeFile,
  chmod,
} from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { bundledBootAssets } from '../boot/assets-path.js';

export const APPLIANCE_VOLUME_ID = 'COS_LIVE';
export const DEFAULT_PHONEHOME_URL = 'http://10.250.0.1:8080/phone-home';
/** Kernel command line used by the ISO's own bootloaders (isolinux and GRUB). */
export const APPLIANCE_ISO_CMDLINE = `console=ttyS0 quiet panic=-1 rackboot.phonehome=${DEFAULT_PHONEHOME_URL}`;
/** Marker file inside rootfs.squashfs. */
export const ROOTFS_MARKER_PATH = '/etc/rackboot-test-rootfs';
/** Modules the initramfs loads (plus their dependencies, resolved from the modules' .modinfo). */
export const INITRAMFS_MODULES = ['virtio_pci', 'virtio_net', 'e1000', 'virtio_blk'] as const;

/** Bump when the build recipe changes in a way the input hash does not see. */
const RECIPE_VERSION = 2;
// init.sh and udhcpc.sh of the initramfs; boot-assets/ ships beside dist/ too.
const ASSETS_DIR = join(bundledBootAssets(), 'test-appliance');

export interface TestAppliance {
  isoPath: string;
  /** bzImage (the ISO's /boot/kernel). */
  kernelPath: string;
  /** gzip'd newc cpio (the ISO's /boot/initrd). */
  initrdPath: string;
  squashfsPath: string;
  /** The placeholder cloud-config (the ISO's /config.yaml). */
  configPath: string;
  /** Cache directory holding all of the above. */
  dir: string;
  /** e.g. linux-image-6.1.0-56-amd64 */
  kernelPackage: string;
  /** Debian package version, e.g. 6.1.158-1 */
  kernelPackageVersion: string;
  /** uname -r of the kernel, e.g. 6.1.0-56-amd64 */
  kernelRelease: string;
  /** Modules in the initramfs, in load order. */
  modules: string[];
  /** Kernel command line of the ISO's bootloaders. */
  isoCmdline: string;
}

interface RunOptions {
  cwd?: string;
  input?: string;
  env?: NodeJS.ProcessEnv;
}

async function run(cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<string> {
  const spawnOpts: SpawnOptions = { stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] };
  if (opts.cwd !== undefined) spawnOpts.cwd = opts.cwd;
  spawnOpts.env = { ...process.env, LC_ALL: 'C', ...(opts.env ?? {}) };
  const child = spawn(cmd, [...args], spawnOpts);
  return new Promise<string>((resolve, reject) => {
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout?.on('data', (b: Buffer) => out.push(b));
    child.stderr?.on('data', (b: Buffer) => err.push(b));
    child.on('error', (e) => reject(new Error(`${cmd}: ${e.message}`)));
    child.on('close', (code) => {
      if (code === 0) resolve(Buffer.concat(out).toString('utf8'));
      else reject(new Error(`${cmd} ${args.join(' ')} exited ${code}: ${Buffer.concat(err).toString('utf8').trim()}`));
    });
    if (opts.input !== undefined && child.stdin) {
      child.stdin.on('error', () => undefined); // EPIPE if the command exits without reading; reported via exit code
      child.stdin.end(opts.input);
    }
  });
}

/** `a | b` where b's stdout goes to a file (or is discarded). */
async function pipe(
  a: { cmd: string; args: readonly string[] },
  b: { cmd: string; args: readonly string[] },
  cwd: string,
  outFile?: string,
): Promise<void> {
  const env = { ...process.env, LC_ALL: 'C' };
  const pa = spawn(a.cmd, [...a.args], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const pb = spawn(b.cmd, [...b.args], { cwd, env, stdio: ['pipe', outFile === undefined ? 'ignore' : 'pipe', 'pipe'] });
  const errs: string[] = [];
  pa.stderr?.on('data', (d: Buffer) => errs.push(d.toString('utf8')));
  pb.stderr?.on('data', (d: Buffer) => errs.push(d.toString('utf8')));
  if (pa.stdout && pb.stdin) pa.stdout.pipe(pb.stdin);
  const done = (p: ReturnType<typeof spawn>, name: string): Promise<void> =>
    new Promise((resolve, reject) => {
      p.on('error', (e) => reject(new Error(`${name}: ${e.message}`)));
      p.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`${name} exited ${code}: ${errs.join('').trim()}`))));
    });
  const writes: Promise<void>[] = [];
  if (outFile !== undefined && pb.stdout) {
    const ws = createWriteStream(outFile);
    pb.stdout.pipe(ws);
    writes.push(
      new Promise((resolve, reject) => {
        ws.on('finish', () => resolve());
        ws.on('error', reject);
      }),
    );
  }
  await Promise.all([done(pa, a.cmd), done(pb, b.cmd), ...writes]);
}

async function exists(p: string): Promise<boolean> {
  try {
    await stat(p);
    return true;
  } catch {
    return false;
  }
}

function safeName(s: string): string {
  return s.replace(/[^A-Za-z0-9.+~-]/g, '_');
}

interface KernelPackage {
  name: string;
  version: string;
}

async function resolveKernelPackage(): Promise<KernelPackage> {
  const deps = await run('apt-cache', ['depends', 'linux-image-amd64']);
  const m = /Depends:\s*(linux-image-\d\S*-amd64)\b/.exec(deps);
  if (!m?.[1]) throw new Error(`cannot find the kernel package in 'apt-cache depends linux-image-amd64':\n${deps}`);
  const name = m[1];
  const show = await run('apt-cache', ['show', '--no-all-versions', name]);
  const v = /^Version:\s*(\S+)$/m.exec(show);
  if (!v?.[1]) throw new Error(`no Version in 'apt-cache show ${name}'`);
  return { name, version: v[1] };
}

async function newestCachedDeb(debDir: string): Promise<{ pkg: KernelPackage; path: string } | undefined> {
  let names: string[];
  try {
    names = await readdir(debDir);
  } catch {
    return undefined;
  }
  let best: { pkg: KernelPackage; path: string; mtime: number } | undefined;
  for (const n of names) {
    const m = /^(linux-image-[^_]+)_(.+)\.deb$/.exec(n);
    if (!m?.[1] || !m[2]) continue;
    const p = join(debDir, n);
    const st = await stat(p);
    if (!best || st.mtimeMs > best.mtime) best = { pkg: { name: m[1], version: m[2] }, path: p, mtime: st.mtimeMs };
  }
  return best && { pkg: best.pkg, path: best.path };
}

/** The .deb for the current kernel package, downloaded once into <cacheDir>/kernel-debs/. */
async function kernelDeb(cacheDir: string): Promise<{ pkg: KernelPackage; path: string }> {
  const debDir = join(cacheDir, 'kernel-debs');
  let pkg: KernelPackage;
  try {
    pkg = await resolveKernelPackage();
  } catch (err) {
    const cached = await newestCachedDeb(debDir);
    if (cached) return cached;
    throw err;
  }
  const target = join(debDir, `${pkg.name}_${safeName(pkg.version)}.deb`);
  if (await exists(target)) return { pkg, path: target };
  const tmp = join(cacheDir, `tmp-download-${process.pid}-${randomBytes(3).toString('hex')}`);
  await mkdir(tmp, { recursive: true });
  try {
    // As root apt warns that the download is unsandboxed (the _apt user cannot write here); harmless.
    await run('apt-get', ['download', '-q', `${pkg.name}=${pkg.version}`], { cwd: tmp });
    const debs = (await readdir(tmp)).filter((n) => n.endsWith('.deb'));
    if (debs.length !== 1 || !debs[0]) throw new Error(`apt-get download produced ${JSON.stringify(debs)}`);
    await mkdir(debDir, { recursive: true });
    await rename(join(tmp, debs[0]), target);
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
  return { pkg, path: target };
}

async function walk(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await walk(p)));
    else out.push(p);
  }
  return out;
}

function moduleNameOf(file: string): string | undefined {
  const m = /^(.+)\.ko(\.xz|\.zst|\.gz)?$/.exec(basename(file));
  return m?.[1]?.replace(/-/g, '_');
}

async function readModule(file: string): Promise<Buffer> {
  if (file.endsWith('.ko')) return readFile(file);
  const tool = file.endsWith('.xz') ? 'xz' : file.endsWith('.zst') ? 'zstd' : 'gzip';
  const child = spawn(tool, ['-dc', file], { stdio: ['ignore', 'pipe', 'pipe'] });
  const chunks: Buffer[] = [];
  child.stdout?.on('data', (b: Buffer) => chunks.push(b));
  await new Promise<void>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`${tool} -dc ${file} exited ${code}`))));
  });
  return Buffer.concat(chunks);
}

/** `depends=` from a module's .modinfo section (NUL-separated key=value strings). */
function moduleDepends(ko: Buffer): string[] {
  const key = Buffer.from('\0depends=');
  const i = ko.indexOf(key);
  if (i < 0) return [];
  const start = i + key.length;
  const end = ko.indexOf(0, start);
  const v = ko.subarray(start, end < 0 ? undefined : end).toString('utf8');
  return v
    .split(',')
    .map((s) => s.trim().replace(/-/g, '_'))
    .filter((s) => s.length > 0);
}

interface ExtractedKernel {
  vmlinuz: string;
  release: string;
  /** module name -> decompressed .ko content, in load order */
  modules: Array<{ name: string; content: Buffer }>;
}

async function extractKernel(deb: string, workDir: string): Promise<ExtractedKernel> {
  const x = join(workDir, 'deb');
  await mkdir(x, { recursive: true });
  // GNU tar wildcards match '/' too, so these work for both ./lib/modules and ./usr/lib/modules layouts.
  await pipe(
    { cmd: 'dpkg-deb', args: ['--fsys-tarfile', deb] },
    {
      cmd: 'tar',
      args: [
        '-x',
        '-C',
        x,
        '--wildcards',
        '*/boot/vmlinuz-*',
        '*/modules/*/kernel/drivers/virtio/*',
        '*/modules/*/kernel/drivers/net/*',
        '*/modules/*/kernel/drivers/block/virtio_blk.ko*',
        '*/modules/*/kernel/net/core/*',
        '*/modules/*/modules.builtin',
      ],
    },
    workDir,
  );
  const files = await walk(x);
  const vmlinuz = files.find((f) => /\/boot\/vmlinuz-[^/]+$/.test(f));
  if (!vmlinuz) throw new Error(`no /boot/vmlinuz-* in ${deb}`);
  const release = basename(vmlinuz).replace(/^vmlinuz-/, '');
  const index = new Map<string, string>();
  const builtin = new Set<string>();
  for (const f of files) {
    if (f.endsWith('/modules.builtin')) {
      for (const line of (await readFile(f, 'utf8')).split('\n')) {
        const n = moduleNameOf(line.trim());
        if (n) builtin.add(n);
      }
      continue;
    }
    const n = moduleNameOf(f);
    if (n && f.includes(`/modules/${release}/`)) index.set(n, f);
  }
  const ordered: Array<{ name: string; content: Buffer }> = [];
  const seen = new Set<string>();
  const visit = async (name: string, chain: string[]): Promise<void> => {
    if (seen.has(name) || builtin.has(name)) return;
    if (chain.includes(name)) throw new Error(`module dependency cycle: ${[...chain, name].join(' -> ')}`);
    const file = index.get(name);
    if (!file) throw new Error(`module ${name} (needed by ${chain.join(' -> ') || 'the initramfs'}) not found in ${deb}`);
    const content = await readModule(file);
    for (const dep of moduleDepends(content)) await visit(dep, [...chain, name]);
    seen.add(name);
    ordered.push({ name, content });
  };
  for (const m of INITRAMFS_MODULES) await visit(m, []);
  return { vmlinuz, release, modules: ordered };
}

async function buildInitramfs(k: ExtractedKernel, info: string, out: string, workDir: string): Promise<void> {
  const r = join(workDir, 'initramfs');
  for (const d of ['bin', 'proc', 'sys', 'dev', 'tmp', 'run', 'etc', 'mods']) await mkdir(join(r, d), { recursive: true });
  await copyFile('/bin/busybox', join(r, 'bin/busybox'));
  await chmod(join(r, 'bin/busybox'), 0o755);
  await copyFile(join(ASSETS_DIR, 'init.sh'), join(r, 'init'));
  await copyFile(join(ASSETS_DIR, 'udhcpc.sh'), join(r, 'udhcpc.sh'));
  await chmod(join(r, 'init'), 0o755);
  await chmod(join(r, 'udhcpc.sh'), 0o755);
  for (const m of k.modules) await writeFile(join(r, 'mods', `${m.name}.ko`), m.content);
  await writeFile(join(r, 'mods/order'), k.modules.map((m) => m.name).join('\n') + '\n');
  await writeFile(join(r, 'etc/rackboot-test-appliance'), info);
  await cpioGz(r, out);
}

/** gzip'd newc cpio of a directory tree, owned by root. */
async function cpioGz(root: string, out: string): Promise<void> {
  await run(
    'sh',
    ['-c', 'set -e; find . | LC_ALL=C sort | cpio -o -H newc -R 0:0 --reproducible --quiet | gzip -9 -n > "$1"', 'sh', out],
    { cwd: root },
  );
}

/**
 * A tiny extra initrd containing only /phonehome-url. Linux unpacks concatenated/multiple initrds in order, so
 * loading this after the appliance initrd gives the initramfs a phone-home URL without a kernel argument.
 */
export async function buildPhonehomeOverlay(url: string, outPath: string): Promise<string> {
  const tmp = join(dirname(outPath), `.overlay-${process.pid}-${randomBytes(3).toString('hex')}`);
  await mkdir(tmp, { recursive: true });
  try {
    await writeFile(join(tmp, 'phonehome-url'), `${url}\n`);
    await cpioGz(tmp, outPath);
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
  return outPath;
}

async function buildSquashfs(info: string, out: string, workDir: string): Promise<void> {
  const r = join(workDir, 'rootfs');
  await mkdir(join(r, 'etc'), { recursive: true });
  await writeFile(join(r, ROOTFS_MARKER_PATH), `RACKBOOT-TEST-ROOTFS\n${info}`);
  await writeFile(join(r, 'etc/os-release'), 'NAME="rackboot test appliance"\nID=rackboot-test\n');
  await run('mksquashfs', [r, out, '-noappend', '-all-root', '-no-progress', '-mkfs-time', '0', '-all-time', '0']);
}

const CONFIG_YAML = `#cloud-config
# Placeholder user-data of the rackboot test appliance (Kairos reads /config.yaml at the ISO root).
install:
  auto: false
stages:
  boot:
    - name: rackboot test appliance
      commands:
        - echo rackboot-test-appliance
`;

function grubCfg(cmdline: string): string {
  return [
    'set timeout=0',
    'set default=0',
    'menuentry "rackboot test appliance" {',
    `  linux /boot/kernel ${cmdline}`,
    '  initrd /boot/initrd',
    '}',
    '',
  ].join('\n');
}

function isolinuxCfg(cmdline: string): string {
  return [
    'DEFAULT rackboot',
    'PROMPT 0',
    'TIMEOUT 0',
    'LABEL rackboot',
    '  LINUX /boot/kernel',
    `  APPEND initrd=/boot/initrd ${cmdline}`,
    '',
  ].join('\n');
}

async function buildIso(a: { kernel: string; initrd: string; squashfs: string; config: string }, out: string, workDir: string): Promise<void> {
  const iso = join(workDir, 'iso');
  await mkdir(join(iso, 'boot/grub2'), { recursive: true });
  await mkdir(join(iso, 'isolinux'), { recursive: true });
  await copyFile(a.kernel, join(iso, 'boot/kernel'));
  await copyFile(a.initrd, join(iso, 'boot/initrd'));
  await copyFile(a.squashfs, join(iso, 'rootfs.squashfs'));
  await copyFile(a.config, join(iso, 'config.yaml'));
  await writeFile(join(iso, 'boot/grub2/grub.cfg'), grubCfg(APPLIANCE_ISO_CMDLINE));
  await copyFile('/usr/lib/ISOLINUX/isolinux.bin', join(iso, 'isolinux/isolinux.bin'));
  await copyFile('/usr/lib/syslinux/modules/bios/ldlinux.c32', join(iso, 'isolinux/ldlinux.c32'));
  await writeFile(join(iso, 'isolinux/isolinux.cfg'), isolinuxCfg(APPLIANCE_ISO_CMDLINE));

  // UEFI: a standalone GRUB (all modules in its memdisk, so module autoloading keeps working) whose embedded
  // config finds the ISO by its volume label and reads /boot/grub2/grub.cfg from it.
  const embedded = join(workDir, 'grub-embedded.cfg');
  await writeFile(
    embedded,
    [
      `search --no-floppy --label ${APPLIANCE_VOLUME_ID} --set=root`,
      'configfile ($root)/boot/grub2/grub.cfg',
      `echo "RACKBOOT-GRUB-FAIL: no ${APPLIANCE_VOLUME_ID} volume with /boot/grub2/grub.cfg"`,
      '',
    ].join('\n'),
  );
  const efi = join(workDir, 'BOOTX64.EFI');
  await run('grub-mkstandalone', [
    '-O',
    'x86_64-efi',
    '-o',
    efi,
    '--locales=',
    '--fonts=',
    '--themes=',
    `boot/grub/grub.cfg=${embedded}`,
  ]);
  // FAT image for the El Torito EFI entry: at least 2880 KiB, with 1 MiB headroom over the EFI binary.
  const efiSize = (await stat(efi)).size;
  const sectors = Math.max(5760, Math.ceil((efiSize + 1024 * 1024) / 512 / 2048) * 2048);
  const img = join(iso, 'boot/uefi.img');
  await writeFile(img, Buffer.alloc(0));
  await run('truncate', ['-s', String(sectors * 512), img]);
  await run('mformat', ['-i', img, '-T', String(sectors), '-h', '64', '-s', '32', '::']);
  await run('mmd', ['-i', img, '::/EFI', '::/EFI/BOOT']);
  await run('mcopy', ['-i', img, efi, '::/EFI/BOOT/BOOTX64.EFI']);

  await run('xorriso', [
    '-as',
    'mkisofs',
    '-quiet',
    '-o',
    out,
    '-V',
    APPLIANCE_VOLUME_ID,
    '-J',
    '-R',
    '-b',
    'isolinux/isolinux.bin',
    '-c',
    'isolinux/boot.cat',
    '-no-emul-boot',
    '-boot-load-size',
    '4',
    '-boot-info-table',
    '-eltorito-alt-boot',
    '-e',
    'boot/uefi.img',
    '-no-emul-boot',
    '-isohybrid-mbr',
    '/usr/lib/ISOLINUX/isohdpfx.bin',
    '-isohybrid-gpt-basdat',
    iso,
  ]);
}

interface Manifest {
  recipe: number;
  kernelPackage: string;
  kernelPackageVersion: string;
  kernelRelease: string;
  modules: string[];
  isoCmdline: string;
  builtAt: string;
}

const FILES = {
  kernel: 'kernel',
  initrd: 'initrd',
  squashfs: 'rootfs.squashfs',
  config: 'config.yaml',
  iso: 'appliance.iso',
  manifest: 'manifest.json',
} as const;

async function inputsHash(): Promise<string> {
  const h = createHash('sha256');
  h.update(`recipe ${RECIPE_VERSION}\n${APPLIANCE_ISO_CMDLINE}\n${INITRAMFS_MODULES.join(',')}\n${CONFIG_YAML}\n`);
  for (const f of ['init.sh', 'udhcpc.sh']) h.update(await readFile(join(ASSETS_DIR, f)));
  const bb = await stat('/bin/busybox');
  h.update(`busybox ${bb.size} ${bb.mtimeMs}\n`);
  return h.digest('hex').slice(0, 12);
}

function result(dir: string, m: Manifest): TestAppliance {
  return {
    isoPath: join(dir, FILES.iso),
    kernelPath: join(dir, FILES.kernel),
    initrdPath: join(dir, FILES.initrd),
    squashfsPath: join(dir, FILES.squashfs),
    configPath: join(dir, FILES.config),
    dir,
    kernelPackage: m.kernelPackage,
    kernelPackageVersion: m.kernelPackageVersion,
    kernelRelease: m.kernelRelease,
    modules: m.modules,
    isoCmdline: m.isoCmdline,
  };
}

async function readManifest(dir: string): Promise<Manifest | undefined> {
  try {
    const m = JSON.parse(await readFile(join(dir, FILES.manifest), 'utf8')) as Manifest;
    for (const f of Object.values(FILES)) if (!(await exists(join(dir, f)))) return undefined;
    return m;
  } catch {
    return undefined;
  }
}

/**
 * Build (or reuse from cache) the test appliance. Safe to call concurrently from several test files: each build
 * happens in a private temp directory that is renamed into place; the first one to finish wins.
 */
export async function buildTestAppliance(cacheDir: string): Promise<TestAppliance> {
  await mkdir(cacheDir, { recursive: true });
  const { pkg, path: deb } = await kernelDeb(cacheDir);
  const key = `${pkg.name}_${safeName(pkg.version)}-${await inputsHash()}`;
  const dir = join(cacheDir, 'test-appliance', key);
  const cached = await readManifest(dir);
  if (cached) return result(dir, cached);

  const tmp = join(cacheDir, 'test-appliance', `.tmp-${key}-${process.pid}-${randomBytes(3).toString('hex')}`);
  const work = join(tmp, '.work');
  await mkdir(work, { recursive: true });
  try {
    const k = await extractKernel(deb, work);
    const info = `kernel-package=${pkg.name}\nkernel-package-version=${pkg.version}\nkernel-release=${k.release}\n`;
    await copyFile(k.vmlinuz, join(tmp, FILES.kernel));
    await buildInitramfs(k, info, join(tmp, FILES.initrd), work);
    await buildSquashfs(info, join(tmp, FILES.squashfs), work);
    await writeFile(join(tmp, FILES.config), CONFIG_YAML);
    await buildIso(
      {
        kernel: join(tmp, FILES.kernel),
        initrd: join(tmp, FILES.initrd),
        squashfs: join(tmp, FILES.squashfs),
        config: join(tmp, FILES.config),
      },
      join(tmp, FILES.iso),
      work,
    );
    const manifest: Manifest = {
      recipe: RECIPE_VERSION,
      kernelPackage: pkg.name,
      kernelPackageVersion: pkg.version,
      kernelRelease: k.release,
      modules: k.modules.map((m) => m.name),
      isoCmdline: APPLIANCE_ISO_CMDLINE,
      builtAt: new Date().toISOString(),
    };
    await rm(work, { recursive: true, force: true });
    await writeFile(join(tmp, FILES.manifest), JSON.stringify(manifest, null, 2) + '\n');
    try {
      await rename(tmp, dir);
    } catch (err) {
      // Another process finished the same build first.
      const other = await readManifest(dir);
      if (!other) throw err;
      return result(dir, other);
    }
    return result(dir, manifest);
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}
