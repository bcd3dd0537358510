// Cheap configuration checks: `GET version/` (anonymous) and `GET users/?op=whoami` (authenticated).

import { Type, type Static } from '@sinclair/typebox';
import type { MaasClient } from './client.js';
import type { MaasResult } from './errors.js';

export const VersionSchema = Type.Object(
  { version: Type.String(), subversion: Type.Optional(Type.String()), capabilities: Type.Optional(Type.Array(Type.String())) },
  { additionalProperties: true },
);
export type MaasVersion = Static<typeof VersionSchema>;

export const WhoAmISchema = Type.Object(
  { username: Type.String(), is_superuser: Type.Optional(Type.Boolean()), email: Type.Optional(Type.Union([Type.String(), Type.Null()])) },
  { additionalProperties: true },
);
export type MaasUser = Static<typeof WhoAmISchema>;

export function readVersion(client: MaasClient): Promise<MaasResult<MaasVersion>> {
  return client.json({ method: 'GET', path: 'version/' }, VersionSchema, 'version');
}

/** Proves the key works; `is_superuser` tells whether admin-only calls (tags, images, power parameters) will pass. */
export function whoAmI(client: MaasClient): Promise<MaasResult<MaasUser>> {
  return client.json({ method: 'GET', path: 'users/', op: 'whoami' }, WhoAmISchema, 'user');
}
