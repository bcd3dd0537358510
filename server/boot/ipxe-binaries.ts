import { access } from 'node:fs/promises';
import { join } from 'node:path';

// Debian's `ipxe` package installs these; they are the first-stage programs rackboot hands out.
export const REQUIRED_IPXE_BINARIES = ['undionly.kpxe', 'snponly.efi', 'ipxe.efi'] as const;
const SEARCH = ['/usr/lib/ipxe'];

export class IpxeBinariesMissing extends Error {
  readonly code = 'RB_IPXE_MISSING';
}

/** Finds the directory holding the iPXE builds, or explains how to get them. */
export async function resolveIpxeDir(configured: string): Promise<string> {
  const candidates = configured === 'auto' ? SEARCH : [configured];
  for (const dir of candidates) {
    const missing: string[] = [];
    for (const b of REQUIRED_IPXE_BINARIES) {
      try {
        await access(join(dir, b));
      } catch {
        missing.push(b);
      }
    }
    if (missing.length === 0) return dir;
    if (configured !== 'auto') {
      throw new IpxeBinariesMissing(`boot.ipxeDir ${dir} lacks ${missing.join(', ')}; point it at a directory with the iPXE builds`);
    }
  }
  throw new IpxeBinariesMissing(
    `iPXE binaries (${REQUIRED_IPXE_BINARIES.join(', ')}) not found in ${SEARCH.join(', ')}: install Debian's ipxe package (apt-get install ipxe) or set boot.ipxeDir`,
  );
}
