// What `rackboot lab up` needs from the host: root (namespaces, taps), QEMU, and the Debian tools the
// test appliance is built with.

import { accessSync, constants, existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';

export const LAB_COMMANDS = ['ip', 'qemu-system-x86_64', 'apt-cache', 'apt-get', 'dpkg-deb', 'cpio', 'xorriso', 'mksquashfs', 'grub-mkstandalone', 'mformat', 'mcopy'] as const;
const LAB_FILES = ['/bin/busybox', '/usr/lib/ISOLINUX/isolinux.bin', '/usr/lib/syslinux/modules/bios/ldlinux.c32', '/dev/net/tun'] as const;

/** Empty when the lab can run; otherwise one line per missing piece. */
export function labPrerequisiteProblems(): string[] {
  const problems: string[] = [];
  if (process.platform !== 'linux') problems.push(`not Linux (${process.platform})`);
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) problems.push('not root: network namespaces and taps need uid 0');
  const dirs = [...(process.env['PATH'] ?? '').split(delimiter), '/usr/sbin', '/sbin', '/usr/bin', '/bin'].filter((d) => d !== '');
  for (const cmd of LAB_COMMANDS) if (!dirs.some((d) => executable(join(d, cmd)))) problems.push(`command not found: ${cmd}`);
  for (const f of LAB_FILES) if (!existsSync(f)) problems.push(`missing: ${f}`);
  return problems;
}

function executable(p: string): boolean {
  try {
    accessSync(p, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}
