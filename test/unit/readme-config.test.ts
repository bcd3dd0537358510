import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { TSchema } from '@sinclair/typebox';
import { describe, expect, it } from 'vitest';
import { ConfigSchema } from '../../server/config/schema.js';

// The README's configuration table is the operator's reference: every key of the schema must be there,
// and every documented literal default must be the schema's default.

interface Key {
  path: string;
  schema: TSchema;
}

function keys(schema: TSchema, prefix: string): Key[] {
  const out: Key[] = [];
  if (schema.type === 'object' && schema.properties) {
    for (const [name, sub] of Object.entries(schema.properties as Record<string, TSchema>)) {
      const path = prefix === '' ? name : `${prefix}.${name}`;
      out.push({ path, schema: sub }, ...keys(sub, path));
    }
  } else if (schema.type === 'object' && schema.patternProperties) {
    const value = Object.values(schema.patternProperties as Record<string, TSchema>)[0]!;
    out.push(...keys(value, `${prefix}.<name>`));
  } else if (schema.type === 'array' && schema.items) {
    out.push(...keys(schema.items as TSchema, `${prefix}[]`));
  }
  return out;
}

const readme = readFileSync(fileURLToPath(new URL('../../README.md', import.meta.url)), 'utf8');
const rows = new Map(
  Array.from(readme.matchAll(/^\| `([^`]+)` \| ([^|]+) \|/gm), (m) => [m[1]!, m[2]!.trim()] as const),
);
const fullRows = new Map(Array.from(readme.matchAll(/^\| `([^`]+)` \|(.*)$/gm), (m) => [m[1]!, m[2]!] as const));

describe('README configuration reference', () => {
  const all = keys(ConfigSchema, '');

  it('documents every config key (a section object needs no row; a sub-key may be named in the row of its parent)', () => {
    expect(all.length).toBeGreaterThan(30);
    const isSection = (k: Key) => k.schema.type === 'object' && k.schema.properties !== undefined;
    // A key may instead be described in its parent's row, which must then name it (e.g. pool: `{start, end}`).
    const covered = (path: string): boolean => {
      if (rows.has(path)) return true;
      const parent = path.slice(0, path.lastIndexOf('.')).replace(/\[\]$/, '');
      const leaf = path.slice(path.lastIndexOf('.') + 1);
      const row = fullRows.get(parent);
      return row !== undefined && new RegExp('[\\s{`,]' + leaf + '[\\s}`,]').test(row);
    };
    const missing = all.filter((k) => !isSection(k) && !covered(k.path)).map((k) => k.path);
    expect(missing).toEqual([]);
  });

  it('documents no key the schema does not have', () => {
    const known = new Set(all.map((k) => k.path));
    const topLevel = new Set(all.filter((k) => !k.path.includes('.')).map((k) => k.path.replace(/\[\]$/, '')));
    const stale = [...rows.keys()].filter((k) => topLevel.has(k.split(/[.[]/)[0]!) && !known.has(k));
    expect(stale).toEqual([]);
  });

  it('shows the schema default for every key whose default is a plain value', () => {
    const wrong: string[] = [];
    for (const k of all) {
      const d: unknown = k.schema.default;
      if (d === undefined || typeof d === 'object') continue;
      const documented = rows.get(k.path);
      const want = typeof d === 'string' ? `\`${d}\`` : `\`${String(d)}\``;
      if (documented !== want && !(d === '' && documented === "`''`")) wrong.push(`${k.path}: README says ${documented}, schema has ${want}`);
    }
    expect(wrong).toEqual([]);
  });
});
