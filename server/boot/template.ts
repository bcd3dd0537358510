import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

/** A loaded template: `{{name}}` placeholders, nothing else. */
export class Template {
  readonly placeholders: ReadonlySet<string>;

  constructor(
    readonly name: string,
    private readonly text: string,
  ) {
    this.placeholders = new Set(Array.from(text.matchAll(/\{\{(\w+)\}\}/g), (m) => m[1]!));
  }

  /** Values are single-line by contract so a machine field can never add script lines. */
  render(vars: Record<string, string>): string {
    for (const p of this.placeholders) {
      if (!(p in vars)) throw new Error(`template ${this.name}: no value for {{${p}}}`);
    }
    return this.text.replace(/\{\{(\w+)\}\}/g, (_, key: string) => {
      const v = vars[key]!;
      if (/[\r\n]/.test(v) && !key.endsWith('Lines')) throw new Error(`template ${this.name}: value for {{${key}}} contains a line break`);
      return v;
    });
  }
}

export const IPXE_TEMPLATES = {
  netboot: ['name', 'profile', 'kernelUrl', 'cmdline', 'initrdLines', 'retries'],
  'local-disk': ['name', 'reason'],
  sanboot: ['name', 'isoUrl', 'retries'],
} as const;

export type IpxeTemplateName = keyof typeof IPXE_TEMPLATES;

/** Loads every iPXE template and checks it uses only the variables rackboot provides. */
export async function loadIpxeTemplates(dir: string): Promise<Record<IpxeTemplateName, Template>> {
  const out = {} as Record<IpxeTemplateName, Template>;
  for (const [name, allowed] of Object.entries(IPXE_TEMPLATES) as [IpxeTemplateName, readonly string[]][]) {
    const path = join(dir, 'ipxe', `${name}.ipxe`);
    const t = new Template(name, await readFile(path, 'utf8'));
    const unknown = [...t.placeholders].filter((p) => !allowed.includes(p));
    if (unknown.length > 0) throw new Error(`${path}: unknown placeholders ${unknown.map((u) => `{{${u}}}`).join(', ')}; allowed: ${allowed.join(', ')}`);
    if (!t.render(Object.fromEntries(allowed.map((a) => [a, 'x']))).startsWith('#!ipxe')) throw new Error(`${path}: must start with #!ipxe`);
    out[name] = t;
  }
  return out;
}
