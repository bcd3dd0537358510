import { createHash } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { ResolvedConfig } from '../config/load.js';
import { BlobStore } from '../artifacts/blob-store.js';
import { downloadResumable } from '../artifacts/download.js';
import { ingestApplianceIso } from '../artifacts/ingest.js';
import { openSqliteStore } from '../store/sqlite/sqlite-store.js';

export interface ArtifactAddOptions {
  source: string;
  name?: string;
  sha256?: string;
}

/** `rackboot artifacts add PATH|URL`: downloads (resumable) if needed, then ingests into the store. */
export async function addArtifact(cfg: ResolvedConfig, o: ArtifactAddOptions, out: NodeJS.WriteStream, err: NodeJS.WriteStream): Promise<number> {
  const progress = progressPrinter(err);
  let path = o.source;
  if (/^https?:\/\//i.test(o.source)) {
    const dir = join(cfg.artifactsRoot, 'downloads');
    await mkdir(dir, { recursive: true });
    // Named after the URL, so an interrupted download of the same URL resumes.
    const dest = join(dir, createHash('sha256').update(o.source).digest('hex').slice(0, 32));
    const d = await downloadResumable(o.source, dest, { onProgress: (p) => progress(`download${p.resumedFrom > 0 ? ` (resumed at ${mb(p.resumedFrom)})` : ''}`, p.done, p.total) });
    progress.end();
    if (!d.ok) {
      err.write(`rackboot: ${d.code}: ${d.reason}\n`);
      return 1;
    }
    path = d.path;
  }
  const store = openSqliteStore(join(cfg.dataDir, 'rackboot.db'));
  try {
    const r = await ingestApplianceIso(store.artifacts, new BlobStore(cfg.artifactsRoot), {
      path,
      source: o.source,
      ...(o.name !== undefined ? { name: o.name } : {}),
      ...(o.sha256 !== undefined ? { expectedSha256: o.sha256 } : {}),
      onProgress: (p) => progress(p.phase === 'store-iso' ? 'store ISO' : `extract ${p.file}`, p.done, p.total),
    });
    progress.end();
    if (!r.ok) {
      err.write(`rackboot: ${r.code}: ${r.reason}\n`);
      return r.code === 'RB_ARTIFACT_IO' ? 1 : 2;
    }
    const a = r.artifact;
    out.write(
      `${r.reused ? 'already stored' : 'stored'}: ${a.name}\n  id ${a.id}\n  sha256 ${a.sha256}\n  size ${a.size}\n  volume ${a.meta.volumeId} (${a.meta.flavor})\n` +
        `  kernel ${a.meta.files.kernel.size} B, initrd ${a.meta.files.initrd.size} B, squashfs ${a.meta.files.squashfs.size} B\n` +
        `  netboot args: ${a.meta.netbootArgs.join(' ') || '(none found)'}\n`,
    );
    return 0;
  } finally {
    await store.close();
  }
}

export async function listArtifacts(cfg: ResolvedConfig, out: NodeJS.WriteStream): Promise<number> {
  const store = openSqliteStore(join(cfg.dataDir, 'rackboot.db'));
  try {
    const rows = await store.artifacts.list();
    out.write(`${'NAME'.padEnd(40)} ${'FLAVOR'.padEnd(8)} ${'SIZE'.padStart(12)}  SHA256\n`);
    for (const a of rows) out.write(`${a.name.padEnd(40)} ${(a.kind === 'appliance-iso' ? a.meta.flavor : 'maas').padEnd(8)} ${String(a.size).padStart(12)}  ${a.sha256.slice(0, 16)}\n`);
    return 0;
  } finally {
    await store.close();
  }
}

function mb(n: number): string {
  return `${(n / 1048576).toFixed(1)} MiB`;
}

/** One progress line, redrawn on a terminal and printed every 10% otherwise. */
function progressPrinter(err: NodeJS.WriteStream): ((what: string, done: number, total: number | null) => void) & { end(): void } {
  let last = '';
  let lastDecile = -1;
  const fn = (what: string, done: number, total: number | null) => {
    const pct = total ? Math.floor((done / total) * 100) : null;
    const line = `${what}: ${mb(done)}${total ? ` of ${mb(total)} (${pct}%)` : ''}`;
    if (err.isTTY) {
      if (line !== last) err.write(`\r${line}\u001b[K`);
    } else if (pct !== null && Math.floor(pct / 10) !== lastDecile) {
      lastDecile = Math.floor(pct / 10);
      err.write(`${line}\n`);
    }
    last = line;
  };
  return Object.assign(fn, {
    end() {
      if (err.isTTY && last !== '') err.write('\n');
      last = '';
      lastDecile = -1;
    },
  });
}
