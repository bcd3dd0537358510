// Small guards for BMC JSON. Every payload enters as `unknown`; resources read it through these so a
// missing or mistyped property becomes `undefined`, never a crash or a silent `any`.

import { Type, type Static } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';

export type JsonObject = Record<string, unknown>;

export function isRecord(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function asArray(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}

/** A string property; blank and whitespace-only strings (iLO pads SerialNumber with spaces) count as absent. */
export function text(v: unknown): string | undefined {
  if (typeof v !== 'string') return undefined;
  const t = v.trim();
  return t === '' ? undefined : t;
}

/** A string property as sent (no trimming). */
export function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

export function num(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

export function bool(v: unknown): boolean | undefined {
  return typeof v === 'boolean' ? v : undefined;
}

export function strings(v: unknown): string[] {
  return asArray(v).filter((x): x is string => typeof x === 'string');
}

export function record(v: unknown): JsonObject | undefined {
  return isRecord(v) ? v : undefined;
}

/** `{"@odata.id": "..."}` → the path. */
export function odataId(v: unknown): string | undefined {
  return isRecord(v) ? text(v['@odata.id']) : undefined;
}

/** A list of links → their paths. */
export function odataIds(v: unknown): string[] {
  const out: string[] = [];
  for (const item of asArray(v)) {
    const id = odataId(item);
    if (id !== undefined) out.push(id);
  }
  return out;
}

/** Walks a property path (`get(o, 'Links', 'Sessions')`). */
export function get(v: unknown, ...keys: string[]): unknown {
  let cur: unknown = v;
  for (const k of keys) {
    if (!isRecord(cur)) return undefined;
    cur = cur[k];
  }
  return cur;
}

/** A `Foo@Redfish.AllowableValues` list, or undefined when the BMC did not publish one. */
export function allowable(obj: unknown, prop: string): string[] | undefined {
  if (!isRecord(obj)) return undefined;
  const v = obj[`${prop}@Redfish.AllowableValues`];
  return Array.isArray(v) ? strings(v) : undefined;
}

/** The last path segment of an @odata.id, without a trailing slash (iLO writes `/Systems/1/`). */
export function lastSegment(path: string): string {
  const parts = path.split('/').filter((p) => p !== '');
  return decodeURIComponent(parts[parts.length - 1] ?? '');
}

/** Strips a trailing slash so `/redfish/v1/Systems/1/` and `/redfish/v1/Systems/1` compare equal. */
export function samePath(a: string, b: string): boolean {
  const n = (p: string) => (p.length > 1 && p.endsWith('/') ? p.slice(0, -1) : p);
  return n(a) === n(b);
}

// Collections are checked with a TypeBox schema: the shape every resource walk depends on.
const CollectionSchema = Type.Object({
  Members: Type.Array(Type.Object({ '@odata.id': Type.String() })),
});
export type CollectionBody = Static<typeof CollectionSchema>;

/** Member paths of a Redfish collection, or undefined when the body is not a collection. */
export function collectionMembers(body: unknown): string[] | undefined {
  if (!Value.Check(CollectionSchema, body)) return undefined;
  return body.Members.map((m) => m['@odata.id']);
}
