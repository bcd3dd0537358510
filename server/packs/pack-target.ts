// Where a pack bundle goes and how rackboot trusts and logs in to that registry. By default the
// cluster's own Zot (https://<VIP>:30003), whose certificate is self-signed by the appliance: its
// SHA-256 fingerprint is trusted on first use and recorded, and every later push insists on it. An
// external registry is verified against the system CAs unless the operator gives a CA file, a pinned
// fingerprint, trust on first use, or (explicitly) no verification at all. Credentials come from a
// file read at push time; only its path is stored.

import { access, constants, readFile } from 'node:fs/promises';
import https from 'node:https';
import { Type, type Static } from '@sinclair/typebox';
import { createPinnedAgent, normalizeFingerprint } from '../../local-api/index.js';
import { OciLayoutArchive } from './oci-layout-archive.js';
import type { PushTarget } from './registry-push.js';

export const ZOT_PORT = 30003;

const AbsPath = (description: string) => Type.String({ pattern: '^/', maxLength: 4096, description });

export const RegistryTlsSchema = Type.Object(
  {
    caFile: Type.Optional(AbsPath('PEM CA bundle the registry certificate must chain to')),
    pinSha256: Type.Optional(Type.String({ description: 'SHA-256 fingerprint the registry certificate must have' })),
    trustOnFirstUse: Type.Optional(Type.Boolean({ description: 'trust the first certificate seen and record its fingerprint (the default for the cluster\'s Zot)' })),
    insecure: Type.Optional(Type.Boolean({ description: 'do not verify the certificate at all' })),
  },
  { additionalProperties: false },
);

/** A registry to push to, as the operator names it (cluster definition or an on-demand push). */
export const RegistryChoiceSchema = Type.Object(
  {
    registry: Type.Optional(Type.String({ pattern: '^https?://[^/?#\\s]+$', description: 'registry base URL; default https://<VIP>:30003, the cluster\'s Zot' })),
    repository: Type.Optional(Type.String({ pattern: '^[a-z0-9]+([._-][a-z0-9]+)*(/[a-z0-9]+([._-][a-z0-9]+)*)*$', maxLength: 255, description: 'repository the manifests go to; default "packs"' })),
    credentialsFile: Type.Optional(AbsPath('file holding `username:password` (first line) for Basic or token auth')),
    tls: Type.Optional(RegistryTlsSchema),
  },
  { additionalProperties: false },
);
export type RegistryChoice = Static<typeof RegistryChoiceSchema>;

export const PackBundleSchema = Type.Composite([Type.Object({ archive: AbsPath('OCI image-layout archive (tar) on the rackboot host') }), RegistryChoiceSchema], {
  additionalProperties: false,
  description: 'pack bundle pushed once the cluster is Running and Healthy; by default to its Zot at https://<vip>:30003',
});
export type PackBundle = Static<typeof PackBundleSchema>;

/** The recorded trust: fingerprints keyed by a name (see registryPinKey). */
export interface PinStore {
  pin(key: string): Promise<string | null>;
}

export function registryUrl(choice: RegistryChoice, vip: string): string {
  return choice.registry ?? `https://${vip}:${ZOT_PORT}`;
}

export function registryPinKey(clusterId: string, registry: string): string {
  return `registry:${clusterId}:${new URL(registry).origin}`;
}

/** Problems with a choice that can be seen without contacting the registry. */
export function registryChoiceIssues(choice: RegistryChoice, field: string): { field: string; message: string }[] {
  const out: { field: string; message: string }[] = [];
  const t = choice.tls ?? {};
  const modes = [t.caFile !== undefined, t.pinSha256 !== undefined, t.trustOnFirstUse === true, t.insecure === true].filter(Boolean).length;
  if (modes > 1) out.push({ field: `${field}.tls`, message: 'give one of caFile, pinSha256, trustOnFirstUse, insecure' });
  if (t.pinSha256 !== undefined && normalizeFingerprint(t.pinSha256) === undefined) out.push({ field: `${field}.tls.pinSha256`, message: 'not a SHA-256 fingerprint (64 hex digits)' });
  if (choice.registry?.startsWith('http://') === true && modes > 0) out.push({ field: `${field}.tls`, message: 'an http:// registry has no TLS to configure' });
  return out;
}

/** What is wrong with a pack bundle definition, checked on the rackboot host before anything runs. */
export async function packBundleIssues(b: PackBundle, field: string): Promise<{ field: string; message: string }[]> {
  const out = registryChoiceIssues(b, field);
  try {
    const layout = await OciLayoutArchive.open(b.archive);
    const index = await layout.readJson<{ manifests?: unknown[] }>('index.json');
    if (!Array.isArray(index.manifests) || index.manifests.length === 0) out.push({ field: `${field}.archive`, message: `${b.archive}: index.json lists no manifests` });
  } catch (e) {
    out.push({ field: `${field}.archive`, message: (e as NodeJS.ErrnoException).code === undefined ? (e as Error).message : `cannot read ${b.archive}: ${(e as NodeJS.ErrnoException).code}` });
  }
  for (const [f, path] of [['credentialsFile', b.credentialsFile], ['tls.caFile', b.tls?.caFile]] as const) {
    if (path === undefined) continue;
    try {
      await access(path, constants.R_OK);
    } catch (e) {
      out.push({ field: `${field}.${f}`, message: `cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}` });
    }
  }
  return out;
}

export type TargetResult = { ok: true; target: PushTarget; trust: string } | { ok: false; error: string };

/**
 * The push target for a choice: URL, repository, credentials read from their file, and the TLS agent.
 * `onPinned` gets a fingerprint learnt under trust on first use, with its key, to record it.
 */
export async function resolvePushTarget(
  choice: RegistryChoice,
  o: { clusterId: string; vip: string; pins: PinStore; signal?: AbortSignal; onPinned: (key: string, fingerprint: string) => void },
): Promise<TargetResult> {
  const registry = registryUrl(choice, o.vip);
  const target: PushTarget = { registry, repository: choice.repository ?? 'packs', ...(o.signal === undefined ? {} : { signal: o.signal }) };
  if (choice.credentialsFile !== undefined) {
    let line: string;
    try {
      line = (await readFile(choice.credentialsFile, 'utf8')).split(/\r?\n/)[0] ?? '';
    } catch (e) {
      return { ok: false, error: `credentialsFile: cannot read ${choice.credentialsFile}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}` };
    }
    const colon = line.indexOf(':');
    if (colon <= 0) return { ok: false, error: `credentialsFile ${choice.credentialsFile}: the first line must be username:password` };
    target.credentials = { username: line.slice(0, colon), password: line.slice(colon + 1) };
  }
  if (registry.startsWith('http://')) return { ok: true, target, trust: 'none (plain http)' };
  const t = choice.tls ?? (choice.registry === undefined ? { trustOnFirstUse: true } : {});
  if (t.caFile !== undefined) {
    try {
      target.httpsAgent = new https.Agent({ keepAlive: true, ca: await readFile(t.caFile) });
    } catch (e) {
      return { ok: false, error: `tls.caFile: cannot read ${t.caFile}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}` };
    }
    return { ok: true, target, trust: `CA ${t.caFile}` };
  }
  if (t.insecure === true) {
    target.httpsAgent = new https.Agent({ keepAlive: true, rejectUnauthorized: false });
    return { ok: true, target, trust: 'NOT VERIFIED (tls.insecure)' };
  }
  const key = registryPinKey(o.clusterId, registry);
  const pinned = t.pinSha256 ?? (t.trustOnFirstUse === true ? await o.pins.pin(key) : null);
  if (pinned !== null) {
    const a = createPinnedAgent({ pinSha256: pinned });
    if (a === undefined) return { ok: false, error: 'tls.pinSha256 is not a SHA-256 fingerprint' };
    target.httpsAgent = a.agent;
    return { ok: true, target, trust: `pinned SHA-256 ${normalizeFingerprint(pinned)}` };
  }
  if (t.trustOnFirstUse === true) {
    const a = createPinnedAgent({
      trustOnFirstUse: true,
      onPinned: (fp) => o.onPinned(key, fp),
    })!;
    target.httpsAgent = a.agent;
    return { ok: true, target, trust: 'trust on first use' };
  }
  return { ok: true, target, trust: 'system CAs' };
}
