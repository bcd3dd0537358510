// Adds a kernel argument to the bootloader configs of an ISO, for the entries that boot a given
// kernel. GRUB: the `linux`/`linuxefi`/`linux16` command takes the kernel path then its arguments
// (GRUB manual, "linux"). Syslinux/isolinux: a LABEL block names its kernel with KERNEL or LINUX
// and its command line with APPEND; keywords are case-insensitive (syslinux wiki, "Config").
// Everything else in the text is left byte for byte as it was.
import { posix } from 'node:path';

/**
 * True when a path in a config names the kernel at `kernelPath` (an absolute path in the ISO). A
 * relative path is resolved against `baseDir` (isolinux: the directory of its config file).
 */
function namesKernel(path: string, kernelPath: string, baseDir = '/'): boolean {
  const p = path.replace(/^\([^)]*\)/, ''); // GRUB device prefix such as ($root)
  return p !== '' && posix.resolve(baseDir, p) === kernelPath;
}

function appendToLine(line: string, arg: string): string {
  const cr = line.endsWith('\r') ? '\r' : '';
  const body = cr ? line.slice(0, -1) : line;
  return `${body.replace(/\s+$/, '')} ${arg}${cr}`;
}

/** GRUB config: `arg` appended to every linux/linuxefi/linux16 line that loads `kernelPath`. */
export function addGrubKernelArg(text: string, kernelPath: string, arg: string): { text: string; changed: number } {
  let changed = 0;
  const lines = text.split('\n').map((line) => {
    const m = /^\s*(linux|linuxefi|linux16)\s+(\S+)/.exec(line);
    if (m === null || !namesKernel(m[2]!, kernelPath)) return line;
    changed++;
    return appendToLine(line, arg);
  });
  return { text: lines.join('\n'), changed };
}

/** Isolinux/syslinux config at `cfgPath`: `arg` appended to the APPEND line of every LABEL whose kernel is `kernelPath`. */
export function addIsolinuxKernelArg(text: string, kernelPath: string, arg: string, cfgPath: string): { text: string; changed: number } {
  const baseDir = posix.dirname(cfgPath);
  const lines = text.split('\n');
  let changed = 0;
  // Per LABEL block: the line index of its kernel and of its APPEND, applied when the block ends.
  let kernelAt = -1;
  let appendAt = -1;
  let kernelMatches = false;
  const inserts: Array<{ after: number; line: string }> = [];
  const close = (): void => {
    if (kernelMatches) {
      if (appendAt >= 0) lines[appendAt] = appendToLine(lines[appendAt]!, arg);
      else inserts.push({ after: kernelAt, line: `  APPEND ${arg}` });
      changed++;
    }
    kernelAt = -1;
    appendAt = -1;
    kernelMatches = false;
  };
  lines.forEach((line, i) => {
    const m = /^\s*(\S+)(?:\s+(\S+))?/.exec(line);
    const keyword = m?.[1]?.toUpperCase();
    if (keyword === 'LABEL') close();
    else if ((keyword === 'KERNEL' || keyword === 'LINUX') && m?.[2] !== undefined) {
      kernelAt = i;
      kernelMatches = namesKernel(m[2], kernelPath, baseDir);
    } else if (keyword === 'APPEND') appendAt = i;
  });
  close();
  for (const ins of inserts.reverse()) lines.splice(ins.after + 1, 0, ins.line);
  return { text: lines.join('\n'), changed };
}
