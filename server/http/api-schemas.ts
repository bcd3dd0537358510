import { Type, type TSchema } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { MachineDiskSchema, MachineNetworkSchema, MachineStateSchema } from '../inventory/machine.js';

// What the API answers, for the OpenAPI document and the response serializer. Objects stay open
// (additionalProperties) so a field another module adds to a record is served, not silently dropped.

const Nullable = <T extends TSchema>(t: T) => Type.Union([t, Type.Null()]);
const open = { additionalProperties: true };

export const MachineSchema = Type.Object(
  {
    id: Type.String({ format: 'uuid' }),
    name: Type.String(),
    macs: Type.Array(Type.String()),
    smbiosUuid: Nullable(Type.String()),
    serial: Nullable(Type.String()),
    arch: Nullable(Type.String({ enum: ['x86_64', 'arm64'] })),
    firmware: Nullable(Type.String({ enum: ['bios', 'uefi'] })),
    role: Nullable(Type.String()),
    rack: Nullable(Type.String()),
    tags: Type.Array(Type.String()),
    network: Nullable(MachineNetworkSchema),
    disks: Type.Array(MachineDiskSchema),
    profile: Nullable(Type.String()),
    bmc: Nullable(Type.Object({ address: Type.String(), vendor: Type.Optional(Type.String()) }, open)),
    maas: Nullable(Type.Object({ systemId: Type.Optional(Type.String()), mode: Type.Optional(Type.String({ enum: ['deploy', 'inventory', 'redfish-via-maas'] })) }, open)),
    state: MachineStateSchema,
    stateEnteredAt: Type.String({ format: 'date-time' }),
    stateReason: Nullable(Type.String()),
    failedFrom: Nullable(MachineStateSchema),
    discovery: Nullable(Type.Object({}, open)),
    tokenGeneration: Type.Integer({ description: 'bumped by provision; boot URLs of earlier generations stop working' }),
    createdAt: Type.String({ format: 'date-time' }),
    updatedAt: Type.String({ format: 'date-time' }),
  },
  { ...open, $id: 'Machine' },
);

export const TimelineEventSchema = Type.Object(
  {
    id: Type.Integer(),
    machineId: Nullable(Type.String()),
    mac: Nullable(Type.String()),
    ts: Type.String({ format: 'date-time' }),
    source: Type.String(),
    kind: Type.String(),
    outcome: Type.String({ enum: ['ok', 'error', 'info'] }),
    message: Type.String(),
    detail: Type.Optional(Type.Object({}, open)),
  },
  { ...open, $id: 'TimelineEvent' },
);

/** A page of a list: `total` counts every match of the filters, not just this page. */
export function pageOf(item: TSchema) {
  return Type.Object({ items: Type.Array(item), total: Type.Integer(), limit: Type.Integer(), offset: Type.Integer() });
}

export const Pagination = {
  limit: Type.Integer({ minimum: 1, maximum: 1000, default: 100 }),
  offset: Type.Integer({ minimum: 0, default: 0 }),
};

/** A reference to a shared schema; shared schemas are added once, on the root instance. */
export function ref(id: 'Machine' | 'TimelineEvent' | 'Problem') {
  return Type.Unsafe<unknown>({ $ref: `${id}#` });
}

export function addApiSchemas(app: FastifyInstance): void {
  app.addSchema(MachineSchema);
  app.addSchema(TimelineEventSchema);
}
