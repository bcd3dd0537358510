// Canonical forms for the identifiers machines are matched by.

/** Accepts aa:bb:.., aa-bb-.., aabb.ccdd.eeff and bare hex; returns lower-case colon form or null. */
export function normalizeMac(input: string): string | null {
  const hex = input.trim().toLowerCase().replace(/[:.-]/g, '');
  if (!/^[0-9a-f]{12}$/.test(hex)) return null;
  return hex.match(/../g)!.join(':');
}

export function macFromBytes(bytes: Uint8Array): string {
  return Array.from(bytes.subarray(0, 6), (b) => b.toString(16).padStart(2, '0')).join(':');
}

/** Accepts dashed, bare or braced hex; returns lower-case 8-4-4-4-12 or null. */
export function normalizeUuid(input: string): string | null {
  const hex = input.trim().toLowerCase().replace(/[{}-]/g, '');
  if (!/^[0-9a-f]{32}$/.test(hex)) return null;
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/**
 * The same UUID with its first three fields byte-reversed. SMBIOS (and so Redfish) and PXE option 97
 * disagree on the byte order of those fields, so a machine is matched against both forms.
 */
export function swapUuidByteOrder(uuid: string): string {
  const h = uuid.replace(/-/g, '');
  const rev = (s: string) => s.match(/../g)!.reverse().join('');
  return normalizeUuid(rev(h.slice(0, 8)) + rev(h.slice(8, 12)) + rev(h.slice(12, 16)) + h.slice(16))!;
}

export function uuidFromBytes(bytes: Uint8Array): string {
  return normalizeUuid(Buffer.from(bytes.subarray(0, 16)).toString('hex'))!;
}
