// What rackboot keeps about a machine's BMC. The password is only ever held sealed (see
// secrets/credential-cipher.ts); `publicBmc` is the one shape that leaves through the API.

/** How the BMC's certificate is trusted; there is no "insecure". */
export type BmcTrust =
  | { mode: 'ca'; caBundle: string }
  | { mode: 'pinned'; fingerprintSha256: string }
  /** Trust on first use: the certificate seen at registration, pinned from then on. */
  | { mode: 'tofu'; fingerprintSha256: string; trustedAt: string; subject: string; issuer: string };

export interface BmcHardware {
  manufacturer?: string;
  model?: string;
  serial?: string;
  /** BootSourceOverrideMode / firmware mode as the BMC reported it (UEFI, Legacy). */
  bootMode?: string;
  /** Parts of the inventory the BMC did not provide. */
  gaps: string[];
}

export interface BmcRecord {
  machineId: string;
  /** `https://host[:port]`. */
  address: string;
  username: string;
  /** AES-256-GCM sealed password; never leaves the provisioning layer. */
  sealedPassword: string;
  /** The Redfish System Id acted on. */
  systemId: string;
  vendor: { id: string; product?: string; firmwareVersion?: string; generation?: number };
  trust: BmcTrust;
  hardware: BmcHardware;
  createdAt: string;
  updatedAt: string;
}

export type NewBmcRecord = Omit<BmcRecord, 'createdAt' | 'updatedAt'>;

export interface PublicBmc {
  machineId: string;
  address: string;
  username: string;
  systemId: string;
  vendor: BmcRecord['vendor'];
  /** The CA bundle itself is not repeated; pins and TOFU fingerprints are shown. */
  trust: { mode: 'ca' } | Exclude<BmcTrust, { mode: 'ca' }>;
  hardware: BmcHardware;
  createdAt: string;
  updatedAt: string;
}

export function publicBmc(r: BmcRecord): PublicBmc {
  const trust: PublicBmc['trust'] = r.trust.mode === 'ca' ? { mode: 'ca' } : r.trust;
  return { machineId: r.machineId, address: r.address, username: r.username, systemId: r.systemId, vendor: r.vendor, trust, hardware: r.hardware, createdAt: r.createdAt, updatedAt: r.updatedAt };
}
