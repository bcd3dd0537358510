// Shapes of the MAAS JSON this library relies on, checked at the edge. Every object schema is open
// (additional properties allowed): MAAS adds fields in most releases and drops some (pod,
// iscsiblockdevice_set), so only the fields the library reads are declared, and most are optional.

import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler';
import { fail, ok, type MaasResult } from './errors.js';

const Open = { additionalProperties: true } as const;
const Nullable = <T extends TSchema>(t: T) => Type.Union([t, Type.Null()]);

export const NamedRefSchema = Type.Object({ name: Type.String(), id: Type.Optional(Type.Integer()) }, Open);

export const InterfaceRefSchema = Type.Object(
  { name: Type.Optional(Type.String()), mac_address: Type.Optional(Nullable(Type.String())), id: Type.Optional(Type.Integer()) },
  Open,
);

export const MachineSchema = Type.Object(
  {
    system_id: Type.String({ minLength: 1 }),
    hostname: Type.String(),
    status: Type.Integer(),
    status_name: Type.String(),
    fqdn: Type.Optional(Type.String()),
    status_message: Type.Optional(Nullable(Type.String())),
    status_action: Type.Optional(Nullable(Type.String())),
    error_description: Type.Optional(Nullable(Type.String())),
    owner: Type.Optional(Nullable(Type.String())),
    locked: Type.Optional(Type.Boolean()),
    power_state: Type.Optional(Type.String()),
    power_type: Type.Optional(Nullable(Type.String())),
    osystem: Type.Optional(Nullable(Type.String())),
    distro_series: Type.Optional(Nullable(Type.String())),
    hwe_kernel: Type.Optional(Nullable(Type.String())),
    architecture: Type.Optional(Nullable(Type.String())),
    netboot: Type.Optional(Type.Boolean()),
    ephemeral_deploy: Type.Optional(Type.Boolean()),
    cpu_count: Type.Optional(Type.Number()),
    memory: Type.Optional(Type.Number()),
    tag_names: Type.Optional(Type.Array(Type.String())),
    ip_addresses: Type.Optional(Type.Array(Type.String())),
    pool: Type.Optional(Nullable(NamedRefSchema)),
    zone: Type.Optional(Nullable(NamedRefSchema)),
    boot_interface: Type.Optional(Nullable(InterfaceRefSchema)),
    interface_set: Type.Optional(Type.Array(InterfaceRefSchema)),
    workload_annotations: Type.Optional(Type.Record(Type.String(), Type.String())),
    resource_uri: Type.Optional(Type.String()),
  },
  Open,
);
export type MaasMachine = Static<typeof MachineSchema>;

export const MachineListSchema = Type.Array(MachineSchema);

/** power_off answers `null` when MAAS sent no power action (e.g. manual power type). */
export const MachineOrNullSchema = Nullable(MachineSchema);

export const PowerStateSchema = Type.Object({ state: Type.String() }, Open);

/** `?op=power_parameters` on one machine: one flat object of the machine's power_type fields. */
export const PowerParametersSchema = Type.Record(Type.String(), Type.Unknown());
/** `machines/?op=power_parameters&id=..`: system_id -> power parameters. */
export const PowerParametersBulkSchema = Type.Record(Type.String(), Type.Record(Type.String(), Type.Unknown()));

export const TagUpdateNodesSchema = Type.Object({ added: Type.Integer(), removed: Type.Integer() }, Open);

export const TagSchema = Type.Object(
  { name: Type.String(), definition: Type.Optional(Type.String()), comment: Type.Optional(Type.String()), kernel_opts: Type.Optional(Nullable(Type.String())) },
  Open,
);
export type MaasTag = Static<typeof TagSchema>;

export const EventSchema = Type.Object(
  {
    id: Type.Integer(),
    level: Type.String(),
    created: Type.String(),
    type: Type.String(),
    description: Type.String(),
    node: Type.Optional(Nullable(Type.String())),
    hostname: Type.Optional(Nullable(Type.String())),
    username: Type.Optional(Nullable(Type.String())),
  },
  Open,
);
export type MaasEvent = Static<typeof EventSchema>;

export const EventsPageSchema = Type.Object(
  {
    count: Type.Integer(),
    events: Type.Array(EventSchema),
    next_uri: Nullable(Type.String()),
    prev_uri: Nullable(Type.String()),
  },
  Open,
);
export type MaasEventsPage = Static<typeof EventsPageSchema>;

export const BootResourceFileSchema = Type.Object(
  {
    filename: Type.String(),
    filetype: Type.String(),
    sha256: Type.String(),
    size: Type.Number(),
    complete: Type.Boolean(),
    /** Percentage: 100 * bytes held / (size * region count) (BootResourceFile.sync_progress). */
    progress: Type.Optional(Type.Number()),
    upload_uri: Type.Optional(Type.String()),
    filename_on_disk: Type.Optional(Type.String()),
  },
  Open,
);
export type MaasBootResourceFile = Static<typeof BootResourceFileSchema>;

export const BootResourceSetSchema = Type.Object(
  {
    version: Type.String(),
    label: Type.Optional(Type.String()),
    size: Type.Optional(Type.Number()),
    complete: Type.Boolean(),
    progress: Type.Optional(Type.Number()),
    files: Type.Record(Type.String(), BootResourceFileSchema),
  },
  Open,
);
export type MaasBootResourceSet = Static<typeof BootResourceSetSchema>;

export const BootResourceSchema = Type.Object(
  {
    id: Type.Integer(),
    type: Type.String(),
    name: Type.String(),
    architecture: Type.String(),
    resource_uri: Type.Optional(Type.String()),
    title: Type.Optional(Type.String()),
    subarches: Type.Optional(Type.String()),
    base_image: Type.Optional(Type.String()),
    last_deployed: Type.Optional(Nullable(Type.String())),
    sets: Type.Optional(Type.Record(Type.String(), BootResourceSetSchema)),
  },
  Open,
);
export type MaasBootResource = Static<typeof BootResourceSchema>;
export const BootResourceListSchema = Type.Array(BootResourceSchema);

const compiled = new WeakMap<TSchema, TypeCheck<TSchema>>();

/** Validates untrusted JSON; the error names the first failing path. */
export function checkSchema<S extends TSchema>(schema: S, value: unknown, what: string): MaasResult<Static<S>> {
  let c = compiled.get(schema) as TypeCheck<S> | undefined;
  if (c === undefined) {
    c = TypeCompiler.Compile(schema);
    compiled.set(schema, c as unknown as TypeCheck<TSchema>);
  }
  if (c.Check(value)) return ok(value);
  const first = c.Errors(value).First();
  const where = first ? `${first.path || '/'}: ${first.message}` : 'shape mismatch';
  return fail({ code: 'RB_MAAS_BAD_RESPONSE', message: `MAAS sent an unexpected ${what} (${where})` });
}
