// One push of a pack bundle to a cluster's registry (its Zot, or another), recorded on the cluster's
// timeline and each member machine's: the trust decision, every manifest pushed with its digest and
// how many blobs were uploaded, already present (skipped) or mounted. Used by formation (a persisted
// step) and by the on-demand API. A repeated push is harmless: blobs the registry has are skipped by
// their digest and a manifest PUT of the same bytes stores the same digest.

import type { Logger } from 'pino';
import { registryUrl, resolvePushTarget, type PackBundle } from '../packs/pack-target.js';
import { pushOciArchive, type PushedManifest, type PushFailure } from '../packs/registry-push.js';
import type { ClusterRepo } from '../store/types.js';
import type { Timeline } from '../timeline/recorder.js';
import type { Cluster } from './cluster.js';

export interface ClusterPacksDeps {
  clusters: ClusterRepo;
  timeline: Timeline;
  log: Logger;
}

/** `config`: the registry settings cannot be used (unreadable credentials or CA file). */
export type ClusterPushResult = { registry: string; repository: string } & ({ ok: true; manifests: PushedManifest[] } | { ok: false; error: string; kind: PushFailure | 'config' });

/** Blob actions of one manifest, counted. */
export function blobCounts(m: PushedManifest): { uploaded: number; present: number; mounted: number } {
  const n = { uploaded: 0, present: 0, mounted: 0 };
  for (const b of m.blobs) n[b.action]++;
  return n;
}

export async function pushClusterPacks(d: ClusterPacksDeps, c: Cluster, bundle: PackBundle, signal?: AbortSignal): Promise<ClusterPushResult> {
  const registry = registryUrl(bundle, c.spec.vip);
  const repository = bundle.repository ?? 'packs';
  const note = (kind: string, outcome: 'ok' | 'error' | 'info', message: string, detail: Record<string, unknown>) => recordClusterEvent(d, c, kind, outcome, message, detail);
  const pins: Promise<unknown>[] = [];
  const t = await resolvePushTarget(bundle, {
    clusterId: c.id,
    vip: c.spec.vip,
    pins: { pin: (key) => d.clusters.pin(key) },
    ...(signal === undefined ? {} : { signal }),
    onPinned: (key, fp) => {
      pins.push(
        d.clusters
          .setPin(key, fp)
          .then(() => note('packs.registry-pinned', 'info', `${registry}: certificate SHA-256 ${fp} trusted on first use and recorded`, { registry, fingerprint: fp })),
      );
    },
  });
  if (!t.ok) {
    await note('packs.push-failed', 'error', `pack push to ${registry}: ${t.error}`, { registry, repository });
    return { ok: false, error: t.error, kind: 'config', registry, repository };
  }
  d.log.info({ cluster: c.name, registry, repository, trust: t.trust, archive: bundle.archive }, 'pushing packs');
  t.target.onManifest = async (m) => {
    const n = blobCounts(m);
    await note(
      'packs.pushed',
      'ok',
      `pushed ${repository}:${m.tag} ${m.digest} to ${registry}: ${n.uploaded} blobs uploaded, ${n.present} already there, ${n.mounted} mounted`,
      { registry, repository, tag: m.tag, digest: m.digest, mediaType: m.mediaType, blobs: n },
    );
  };
  const r = await pushOciArchive(bundle.archive, t.target, d.log.child({ cluster: c.name }));
  await Promise.allSettled(pins);
  t.target.httpsAgent?.destroy();
  if (!r.ok) {
    await note('packs.push-failed', 'error', `pack push of ${bundle.archive} to ${registry}/${repository} failed: ${r.error}`, { registry, repository, kind: r.kind });
    return { ...r, registry, repository };
  }
  return { ...r, registry, repository };
}

/** One entry in the cluster's timeline and in each member machine's. */
export async function recordClusterEvent(d: ClusterPacksDeps, c: Cluster, kind: string, outcome: 'ok' | 'error' | 'info', message: string, detail: Record<string, unknown>): Promise<void> {
  try {
    await d.clusters.appendEvent({ clusterId: c.id, kind, outcome, message, detail });
  } catch (err) {
    d.log.error({ err, cluster: c.name }, 'could not record cluster event');
  }
  for (const m of c.members) await d.timeline.record({ machineId: m.machineId, mac: null, source: 'enrollment', kind, outcome, message, detail: { cluster: c.name, ...detail } });
}
