import { stat } from 'node:fs/promises';
import { openIso, type IsoEntry, type IsoImage } from '../iso9660/reader.js';
import { StoreError, type ArtifactRepo } from '../store/types.js';
import type { ApplianceFlavor, ApplianceIsoArtifact, ApplianceIsoMeta, ArtifactFile } from './artifact.js';
import type { BlobStore } from './blob-store.js';
import { netbootArgsFrom, parseGrubConfig } from './grub-config.js';

export type IngestErrorCode =
  | 'RB_ARTIFACT_NOT_ISO'
  | 'RB_ARTIFACT_TRUNCATED'
  | 'RB_ARTIFACT_CORRUPT'
  | 'RB_ARTIFACT_LAYOUT'
  | 'RB_ARTIFACT_CHECKSUM'
  | 'RB_ARTIFACT_NAME_TAKEN'
  | 'RB_ARTIFACT_IO';

export type IngestResult = { ok: true; artifact: ApplianceIsoArtifact; reused: boolean } | { ok: false; code: IngestErrorCode; reason: string };

export interface IngestProgress {
  phase: 'store-iso' | 'extract';
  file: string;
  done: number;
  total: number;
}

export interface IngestInput {
  path: string;
  /** Where the file came from (path or URL), recorded with the artifact. */
  source: string;
  name?: string;
  expectedSha256?: string;
  onProgress?: (p: IngestProgress) => void;
}

const REQUIRED = { kernel: '/boot/kernel', initrd: '/boot/initrd', squashfs: '/rootfs.squashfs' } as const;
/** Where appliance ISOs keep the GRUB config that boots the installer. */
export const GRUB_PATHS = ['/boot/grub2/grub.cfg', '/boot/grub/grub.cfg', '/EFI/BOOT/grub.cfg'];
const SMALL_FILE = 1024 * 1024;
const LISTING_LIMIT = 10_000;

/**
 * Ingests an appliance ISO: checks it is an ISO with the Kairos layout, stores the image and its
 * kernel, initrd and squashfs content-addressed, and records what it found. Either everything is
 * stored and recorded, or the store is left as it was.
 */
export async function ingestApplianceIso(repo: ArtifactRepo, blobs: BlobStore, input: IngestInput): Promise<IngestResult> {
  if (input.expectedSha256 !== undefined && !/^[0-9a-f]{64}$/i.test(input.expectedSha256)) {
    return { ok: false, code: 'RB_ARTIFACT_CHECKSUM', reason: `not a sha256 digest: ${input.expectedSha256}` };
  }
  const size = await stat(input.path).then((s) => (s.isFile() ? s.size : -1), () => -1);
  if (size < 0) return { ok: false, code: 'RB_ARTIFACT_IO', reason: `${input.path} is not a readable file` };
  if (input.name !== undefined && (await repo.findByName(input.name)) !== null) {
    return { ok: false, code: 'RB_ARTIFACT_NAME_TAKEN', reason: `an artifact named '${input.name}' already exists` };
  }
  const opened = await openIso(input.path);
  if (!opened.ok) {
    const code = opened.code === 'RB_ISO_NOT_ISO' ? 'RB_ARTIFACT_NOT_ISO' : opened.code === 'RB_ISO_TRUNCATED' ? 'RB_ARTIFACT_TRUNCATED' : opened.code === 'RB_ISO_IO' ? 'RB_ARTIFACT_IO' : 'RB_ARTIFACT_CORRUPT';
    return { ok: false, code, reason: opened.reason };
  }
  const iso = opened.iso;
  const created: string[] = [];
  try {
    const found = await findLayout(iso);
    if (!found.ok) return found;
    const { entries, grubText, configText } = found;

    let done = 0;
    const iso256 = await blobs.putFile(input.path, (n) => input.onProgress?.({ phase: 'store-iso', file: input.path, done: (done += n), total: size }));
    if (iso256.created) created.push(iso256.sha256);
    if (input.expectedSha256 !== undefined && iso256.sha256 !== input.expectedSha256.toLowerCase()) {
      await rollback(blobs, created);
      return { ok: false, code: 'RB_ARTIFACT_CHECKSUM', reason: `sha256 is ${iso256.sha256}, expected ${input.expectedSha256.toLowerCase()}` };
    }
    const existing = (await repo.list()).find(
      (a): a is ApplianceIsoArtifact => a.kind === 'appliance-iso' && a.sha256 === iso256.sha256 && (input.name === undefined || a.name === input.name),
    );
    if (existing !== undefined) return { ok: true, artifact: existing, reused: true };

    const extract = async (entry: IsoEntry): Promise<ArtifactFile> => {
      let n = 0;
      const r = await blobs.put(iso.createReadStream(entry), (k) => input.onProgress?.({ phase: 'extract', file: entry.path, done: (n += k), total: entry.size }));
      if (r.created) created.push(r.sha256);
      return { isoPath: entry.path, sha256: r.sha256, size: r.size };
    };
    const grubEntries = grubText === null ? [] : parseGrubConfig(grubText);
    const meta: ApplianceIsoMeta = {
      volumeId: iso.volumeId,
      flavor: flavorOf([iso.volumeId, iso.applicationId, iso.publisherId, grubText ?? '', configText ?? '']),
      files: {
        kernel: await extract(entries.kernel),
        initrd: await extract(entries.initrd),
        squashfs: await extract(entries.squashfs),
        config: entries.config === null ? null : await extract(entries.config),
        grubCfg: entries.grub === null ? null : await extract(entries.grub),
      },
      grubEntries,
      netbootArgs: netbootArgsFrom(grubEntries),
      listing: await listing(iso),
      elTorito: await elTorito(iso),
    };
    const name = input.name ?? `${(iso.volumeId || 'appliance').toLowerCase().replace(/[^a-z0-9._-]+/g, '-')}-${iso256.sha256.slice(0, 12)}`;
    try {
      return { ok: true, artifact: await repo.create({ name, kind: 'appliance-iso', sha256: iso256.sha256, size: iso256.size, source: input.source, meta }), reused: false };
    } catch (e) {
      await rollback(blobs, created);
      if (e instanceof StoreError) return { ok: false, code: 'RB_ARTIFACT_NAME_TAKEN', reason: e.message };
      throw e;
    }
  } catch (e) {
    await rollback(blobs, created);
    const code = (e as { code?: string }).code;
    if (code === 'RB_ISO_TRUNCATED') return { ok: false, code: 'RB_ARTIFACT_TRUNCATED', reason: (e as Error).message };
    if (code === 'RB_ISO_CORRUPT') return { ok: false, code: 'RB_ARTIFACT_CORRUPT', reason: (e as Error).message };
    return { ok: false, code: 'RB_ARTIFACT_IO', reason: (e as Error).message };
  } finally {
    await iso.close();
  }
}

type Layout =
  | { ok: true; entries: { kernel: IsoEntry; initrd: IsoEntry; squashfs: IsoEntry; config: IsoEntry | null; grub: IsoEntry | null }; grubText: string | null; configText: string | null }
  | { ok: false; code: IngestErrorCode; reason: string };

async function findLayout(iso: IsoImage): Promise<Layout> {
  const got: Partial<Record<keyof typeof REQUIRED, IsoEntry>> = {};
  const missing: string[] = [];
  for (const [key, path] of Object.entries(REQUIRED) as [keyof typeof REQUIRED, string][]) {
    const e = await iso.stat(path);
    if (e === null || e.isDirectory) missing.push(path);
    else got[key] = e;
  }
  if (missing.length > 0) {
    return { ok: false, code: 'RB_ARTIFACT_LAYOUT', reason: `not a Kairos appliance ISO: missing ${missing.join(', ')} (volume '${iso.volumeId}')` };
  }
  const config = await iso.stat('/config.yaml');
  let grub: IsoEntry | null = null;
  for (const p of GRUB_PATHS) {
    grub = await iso.stat(p);
    if (grub !== null && !grub.isDirectory) break;
    grub = null;
  }
  const text = async (e: IsoEntry | null): Promise<string | null> => {
    if (e === null || e.isDirectory) return null;
    const r = await iso.readFile(e, { maxBytes: SMALL_FILE });
    return r.ok ? r.data.toString('utf8') : null;
  };
  return {
    ok: true,
    entries: { kernel: got.kernel!, initrd: got.initrd!, squashfs: got.squashfs!, config: config !== null && !config.isDirectory ? config : null, grub },
    grubText: await text(grub),
    configText: await text(config),
  };
}

function flavorOf(texts: string[]): ApplianceFlavor {
  const all = texts.join('\n').toLowerCase();
  if (all.includes('vertex')) return 'vertex';
  if (all.includes('palette')) return 'palette';
  return 'unknown';
}

async function listing(iso: IsoImage): Promise<ApplianceIsoMeta['listing']> {
  const out: ApplianceIsoMeta['listing'] = [];
  for await (const e of iso.walk()) {
    if (!e.isDirectory) out.push({ path: e.path, size: e.size });
    if (out.length >= LISTING_LIMIT) break;
  }
  return out;
}

async function elTorito(iso: IsoImage): Promise<ApplianceIsoMeta['elTorito']> {
  const r = await iso.elTorito();
  return r.ok && r.catalog !== null ? r.catalog.entries.map((e) => ({ platform: e.platform, bootable: e.bootable })) : [];
}

async function rollback(blobs: BlobStore, created: string[]): Promise<void> {
  for (const sha of created.splice(0)) await blobs.remove(sha);
}
