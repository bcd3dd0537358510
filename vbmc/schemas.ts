// Typebox schemas of the request bodies the virtual BMC accepts, checked at the HTTP edge.

import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';

export const SessionLogin = Type.Object({ UserName: Type.String(), Password: Type.String() });
export const ResetBody = Type.Object({ ResetType: Type.String() });
export const BootPatch = Type.Object(
  {
    BootSourceOverrideTarget: Type.Optional(Type.String()),
    BootSourceOverrideEnabled: Type.Optional(Type.Union([Type.Literal('Disabled'), Type.Literal('Once'), Type.Literal('Continuous')])),
    BootSourceOverrideMode: Type.Optional(Type.Union([Type.Literal('Legacy'), Type.Literal('UEFI')])),
    HttpBootUri: Type.Optional(Type.Union([Type.String(), Type.Null()])),
    UefiTargetBootSourceOverride: Type.Optional(Type.Union([Type.String(), Type.Null()])),
  },
  { additionalProperties: false },
);
export const SystemPatch = Type.Object({ Boot: Type.Optional(BootPatch) }, { additionalProperties: false });
export const InsertMedia = Type.Object({
  Image: Type.String({ minLength: 1 }),
  Inserted: Type.Optional(Type.Boolean()),
  WriteProtected: Type.Optional(Type.Boolean()),
  TransferProtocolType: Type.Optional(Type.String()),
  TransferMethod: Type.Optional(Type.String()),
  UserName: Type.Optional(Type.String()),
  Password: Type.Optional(Type.String()),
});
export const HpeInsert = Type.Object({ Image: Type.String({ minLength: 1 }) });
export const MediaPatch = Type.Object(
  {
    Image: Type.Optional(Type.Union([Type.String(), Type.Null()])),
    Inserted: Type.Optional(Type.Boolean()),
    WriteProtected: Type.Optional(Type.Boolean()),
    TransferProtocolType: Type.Optional(Type.Union([Type.String(), Type.Null()])),
    Oem: Type.Optional(Type.Object({ Hpe: Type.Optional(Type.Object({ BootOnNextServerReset: Type.Optional(Type.Boolean()) })) })),
  },
  { additionalProperties: false },
);

export const FaultSettings = Type.Object(
  {
    seed: Type.Optional(Type.Integer({ minimum: 0 })),
    /** Probability of a 500 InternalError. */
    errorRate: Type.Optional(Type.Number({ minimum: 0, maximum: 1 })),
    /** Probability of a 503 with Retry-After. */
    unavailableRate: Type.Optional(Type.Number({ minimum: 0, maximum: 1 })),
    retryAfterSeconds: Type.Optional(Type.Integer({ minimum: 0, maximum: 3600 })),
    /** Extra delay before each answer, uniform in [min, max]. */
    latencyMinMs: Type.Optional(Type.Integer({ minimum: 0, maximum: 600_000 })),
    latencyMaxMs: Type.Optional(Type.Integer({ minimum: 0, maximum: 600_000 })),
    /** Probability of never answering (until the client gives up and closes the connection). */
    hangRate: Type.Optional(Type.Number({ minimum: 0, maximum: 1 })),
    /** Probability of a 412 on a PATCH whose If-Match is right. */
    preconditionRate: Type.Optional(Type.Number({ minimum: 0, maximum: 1 })),
    /** Probability of a 401 on a request carrying a valid session token (the session is dropped). */
    sessionExpiryRate: Type.Optional(Type.Number({ minimum: 0, maximum: 1 })),
    /** Methods the faults apply to; default all. */
    methods: Type.Optional(Type.Array(Type.Union([Type.Literal('GET'), Type.Literal('POST'), Type.Literal('PATCH'), Type.Literal('DELETE')]))),
  },
  { additionalProperties: false },
);
export type FaultSettings = Static<typeof FaultSettings>;

export const GuestAction = Type.Object({ action: Type.Union([Type.Literal('reboot'), Type.Literal('poweroff')]) });

/** The value typed by the schema, or the first validation problem as text. */
export function check<T extends TSchema>(schema: T, value: unknown): { ok: true; value: Static<T> } | { ok: false; problem: string; path: string } {
  if (Value.Check(schema, value)) return { ok: true, value: value as Static<T> };
  const first = Value.Errors(schema, value).First();
  return { ok: false, problem: first === undefined ? 'invalid body' : `${first.path || '/'}: ${first.message}`, path: first?.path ?? '' };
}
