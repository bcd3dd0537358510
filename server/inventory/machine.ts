import { Type, type Static } from '@sinclair/typebox';
import { MACHINE_STATES, type MachineState } from '../lifecycle/states.js';

const Ipv4 = Type.String({ pattern: '^(\\d{1,3}\\.){3}\\d{1,3}$' });

export const MachineNetworkSchema = Type.Object(
  {
    hostname: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$' })),
    interface: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9._-]{1,15}$', description: 'OS name of the NIC the static settings apply to' })),
    ip: Type.Optional(Ipv4),
    prefix: Type.Optional(Type.Integer({ minimum: 1, maximum: 32 })),
    gateway: Type.Optional(Ipv4),
    dns: Type.Optional(Type.Array(Ipv4, { maxItems: 8 })),
    vlan: Type.Optional(Type.Integer({ minimum: 1, maximum: 4094 })),
    mtu: Type.Optional(Type.Integer({ minimum: 576, maximum: 9216 })),
  },
  { additionalProperties: false },
);

// Stable names only: /dev/sdX order changes between boots and would wipe the wrong disk.
export const MachineDiskSchema = Type.Object(
  {
    path: Type.String({ pattern: '^/dev/disk/by-(id|path|uuid|partuuid|label|diskseq)/[^\\s]+$' }),
    role: Type.Optional(Type.Union([Type.Literal('os'), Type.Literal('storage'), Type.Literal('other')])),
    sizeGb: Type.Optional(Type.Number({ minimum: 0 })),
    model: Type.Optional(Type.String({ maxLength: 128 })),
    serial: Type.Optional(Type.String({ maxLength: 128 })),
  },
  { additionalProperties: false },
);

/**
 * The machine's MAAS side: which MAAS machine it is (system_id), how rackboot installs it through MAAS
 * (overrides the site's maas.mode) and what an inventory sync copied from MAAS. Without a system_id,
 * deploy mode allocates by pool and tags and records the machine MAAS picked.
 */
export const MachineMaasSchema = Type.Object(
  {
    systemId: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9]{1,32}$' })),
    mode: Type.Optional(Type.Union([Type.Literal('deploy'), Type.Literal('inventory'), Type.Literal('redfish-via-maas')])),
    pool: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
    zone: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
    tags: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 256 }), { maxItems: 64 })),
    powerType: Type.Optional(Type.String({ maxLength: 64 })),
  },
  { additionalProperties: false },
);

/** What an operator supplies, through the API or an inventory file. */
export const MachineInputSchema = Type.Object(
  {
    name: Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$' }),
    macs: Type.Array(Type.String(), { minItems: 1, maxItems: 16 }),
    smbiosUuid: Type.Optional(Type.String()),
    serial: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
    arch: Type.Optional(Type.Union([Type.Literal('x86_64'), Type.Literal('arm64')])),
    firmware: Type.Optional(Type.Union([Type.Literal('bios'), Type.Literal('uefi')])),
    role: Type.Optional(Type.String({ pattern: '^[a-z][a-z0-9-]{0,31}$' })),
    rack: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
    tags: Type.Optional(Type.Array(Type.String({ pattern: '^[A-Za-z0-9._:-]{1,64}$' }), { maxItems: 32 })),
    network: Type.Optional(MachineNetworkSchema),
    disks: Type.Optional(Type.Array(MachineDiskSchema, { maxItems: 64 })),
    profile: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9._-]+$' })),
    bmc: Type.Optional(Type.Object({ address: Type.String({ minLength: 1 }), vendor: Type.Optional(Type.String()) }, { additionalProperties: false })),
    maas: Type.Optional(MachineMaasSchema),
  },
  { additionalProperties: false },
);

export type MachineInput = Static<typeof MachineInputSchema>;
export type MachineNetwork = Static<typeof MachineNetworkSchema>;
export type MachineDisk = Static<typeof MachineDiskSchema>;
export type MachineMaas = Static<typeof MachineMaasSchema>;

export interface DiscoveryInfo {
  firstSeenAt: string;
  vendorClass: string | null;
  clientArch: number | null;
  relay: { giaddr: string; circuitId: string | null; remoteId: string | null } | null;
}

export interface Machine {
  id: string;
  name: string;
  macs: string[];
  smbiosUuid: string | null;
  serial: string | null;
  arch: 'x86_64' | 'arm64' | null;
  firmware: 'bios' | 'uefi' | null;
  role: string | null;
  rack: string | null;
  tags: string[];
  network: MachineNetwork | null;
  disks: MachineDisk[];
  profile: string | null;
  bmc: { address: string; vendor?: string } | null;
  maas: MachineMaas | null;
  state: MachineState;
  /** When the machine entered its state; stage timeouts count from here. */
  stateEnteredAt: string;
  /** Why it is in this state (the failure reason for `failed`). */
  stateReason: string | null;
  /** For a `failed` machine, the state it failed in; null otherwise. */
  failedFrom: MachineState | null;
  discovery: DiscoveryInfo | null;
  tokenGeneration: number;
  createdAt: string;
  updatedAt: string;
}

/** A validated, normalised machine ready to be stored. */
export type NewMachine = Omit<Machine, 'id' | 'createdAt' | 'updatedAt' | 'tokenGeneration' | 'stateEnteredAt' | 'stateReason' | 'failedFrom'>;

export const MachineStateSchema = Type.Union(MACHINE_STATES.map((s) => Type.Literal(s)));
