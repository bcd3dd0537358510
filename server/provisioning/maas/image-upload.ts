import { hashFile, uploadCustomImage, type MaasClient, type UploadProgress } from '../../../maas/index.js';
import type { MaasImageArtifact } from '../../artifacts/artifact.js';
import type { MaasConfig } from '../../config/schema.js';
import { StoreError, type ArtifactRepo } from '../../store/types.js';

export interface ImageUploadInput {
  /** The operator's `ddgz` disk image (a gzipped raw disk, e.g. AuroraBoot's disk.maas output). */
  path: string;
  /** Artifact name and MAAS image name (`custom/<name>`); keep the version in it so rollbacks are a switch. */
  name: string;
  title?: string;
  onProgress?: (p: UploadProgress) => void;
}

export type ImageUploadResult = { ok: true; artifact: MaasImageArtifact; reused: boolean } | { ok: false; code: 'RB_MAAS_IMAGE_NAME' | 'RB_MAAS_IMAGE_UPLOAD' | 'RB_MAAS_IMAGE_TAKEN'; reason: string };

const NAME = /^[a-z0-9][a-z0-9._-]{0,62}$/;
// Names MAAS validates as an operating system of its own (canonical/packer-maas#49, #187).
const RESERVED = /^(ubuntu|centos|rhel|windows|esxi|suse|ol|custom)([./-]|$)/;

/**
 * Uploads the appliance disk image to MAAS as a `ddgz` custom boot resource (chunked, resumable: an
 * interrupted upload of the same file continues where MAAS stopped) and records it as an artifact.
 */
export async function uploadApplianceImage(client: MaasClient, artifacts: ArtifactRepo, cfg: MaasConfig, input: ImageUploadInput): Promise<ImageUploadResult> {
  if (!NAME.test(input.name) || RESERVED.test(input.name)) {
    return { ok: false, code: 'RB_MAAS_IMAGE_NAME', reason: `image name '${input.name}' must be lower-case letters, digits, '.', '_' or '-', and not start with an OS name MAAS knows (ubuntu, centos, rhel, custom...)` };
  }
  const hashed = await hashFile(input.path);
  if (!hashed.ok) return { ok: false, code: 'RB_MAAS_IMAGE_UPLOAD', reason: hashed.error.message };
  const existing = await artifacts.findByName(input.name);
  if (existing !== null && (existing.kind !== 'maas-image' || existing.sha256 !== hashed.value.sha256)) {
    return { ok: false, code: 'RB_MAAS_IMAGE_TAKEN', reason: `an artifact named '${input.name}' already exists with other content; pick a new name (with the version in it)` };
  }
  const up = await uploadCustomImage(client, {
    path: input.path,
    name: `custom/${input.name}`,
    architecture: cfg.architecture,
    filetype: 'ddgz',
    base_image: cfg.baseImage,
    sha256: hashed.value.sha256,
    title: input.title ?? input.name,
    ...(input.onProgress !== undefined ? { onProgress: input.onProgress } : {}),
  });
  if (!up.ok) return { ok: false, code: 'RB_MAAS_IMAGE_UPLOAD', reason: up.error.message };
  if (existing !== null && existing.kind === 'maas-image' && existing.meta.resourceId === up.value.resourceId) return { ok: true, artifact: existing, reused: true };
  const meta = { maasName: `custom/${input.name}`, resourceId: up.value.resourceId, architecture: cfg.architecture, filetype: 'ddgz' as const, baseImage: cfg.baseImage, maasUrl: new URL(cfg.url).origin };
  try {
    if (existing !== null) await artifacts.delete(existing.id);
    const artifact = await artifacts.create({ name: input.name, kind: 'maas-image' as const, sha256: up.value.sha256, size: up.value.size, source: input.path, meta });
    return { ok: true, artifact, reused: false };
  } catch (e) {
    if (e instanceof StoreError && e.code === 'RB_CONFLICT') return { ok: false, code: 'RB_MAAS_IMAGE_TAKEN', reason: e.message };
    throw e;
  }
}
