import type { GrubEntry } from './artifact.js';

/**
 * Reads the menu entries of a GRUB config: titles, the `linux`/`linuxefi` line with its arguments and
 * the initrds, after expanding top-level `set name=value` variables. Enough for the appliance ISO's
 * installer entries; anything it does not understand is skipped, never an error.
 */
export function parseGrubConfig(text: string): GrubEntry[] {
  const vars = new Map<string, string>();
  const entries: GrubEntry[] = [];
  let current: GrubEntry | null = null;
  let depth = 0;
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const menu = /^menuentry\s+(?:"([^"]*)"|'([^']*)'|(\S+))/.exec(line);
    if (menu !== null && current === null) {
      current = { title: menu[1] ?? menu[2] ?? menu[3] ?? '', kernel: '', args: [], initrds: [] };
      depth = line.endsWith('{') ? 1 : 0;
      continue;
    }
    if (current === null) {
      const set = /^set\s+([A-Za-z_][A-Za-z0-9_]*)=(?:"([^"]*)"|'([^']*)'|(\S*))$/.exec(line);
      if (set !== null) vars.set(set[1]!, expand(set[2] ?? set[3] ?? set[4] ?? '', vars));
      continue;
    }
    if (line === '{') depth++;
    else if (line.startsWith('}')) depth--;
    const words = splitWords(expand(line, vars));
    if ((words[0] === 'linux' || words[0] === 'linuxefi' || words[0] === 'linux16') && words.length >= 2) {
      current.kernel = words[1]!;
      current.args = words.slice(2);
    } else if ((words[0] === 'initrd' || words[0] === 'initrdefi' || words[0] === 'initrd16') && words.length >= 2) {
      current.initrds = words.slice(1);
    }
    if (depth <= 0) {
      if (current.kernel !== '') entries.push(current);
      current = null;
    }
  }
  if (current !== null && current.kernel !== '') entries.push(current);
  return entries;
}

// Only meaningful when booting from the CD: the netboot line supplies its own root and console.
const CD_ONLY = [/^cdroot$/, /^root=/, /^rd\.live\.dir=/, /^rd\.live\.squashimg=/, /^console=/, /^initrd=/, /^BOOT_IMAGE=/, /^interactive-install$/, /^install-mode-interactive$/];

/** The automatic installer entry's arguments, as carried over to a network boot. */
export function netbootArgsFrom(entries: GrubEntry[]): string[] {
  const auto =
    entries.find((e) => /install/i.test(e.title) && !/interactive|manual|recovery/i.test(e.title)) ??
    entries.find((e) => e.args.some((a) => a === 'nodepair.enable' || a === 'install-mode')) ??
    entries[0];
  return (auto?.args ?? []).filter((a) => !CD_ONLY.some((re) => re.test(a)));
}

function expand(s: string, vars: Map<string, string>): string {
  return s.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)/g, (whole, a: string | undefined, b: string | undefined) => vars.get(a ?? b ?? '') ?? whole);
}

function splitWords(s: string): string[] {
  return Array.from(s.matchAll(/"([^"]*)"|'([^']*)'|(\S+)/g), (m) => m[1] ?? m[2] ?? m[3]!);
}
