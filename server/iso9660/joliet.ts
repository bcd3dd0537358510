// Joliet: a Supplementary Volume Descriptor whose escape sequences announce UCS-2, and a second
// directory tree whose names are UCS-2 big-endian.
import { ucs2be } from './bytes.js';

/** Joliet level from the SVD escape-sequence field (bytes 88-119), 0 when it is not Joliet. */
export function jolietLevel(escapes: Buffer): number {
  for (let i = 0; i + 2 < escapes.length; i++) {
    if (escapes[i] !== 0x25 || escapes[i + 1] !== 0x2f) continue; // "%/"
    const c = escapes[i + 2];
    if (c === 0x40) return 1; // %/@
    if (c === 0x43) return 2; // %/C
    if (c === 0x45) return 3; // %/E
  }
  return 0;
}

/** A Joliet file identifier as text, without the ';1' version and trailing dots (as Linux shows it). */
export function jolietName(identifier: Buffer): string {
  return stripVersion(ucs2be(identifier));
}

/** Drops an ISO9660 ';<version>' suffix and trailing dots: 'CONFIG.YAM;1' -> 'CONFIG.YAM', 'KERNEL.;1' -> 'KERNEL'. */
export function stripVersion(name: string): string {
  const semi = name.lastIndexOf(';');
  let out = semi >= 0 && /^\d*$/.test(name.slice(semi + 1)) ? name.slice(0, semi) : name;
  while (out.length > 1 && out.endsWith('.')) out = out.slice(0, -1);
  return out;
}
