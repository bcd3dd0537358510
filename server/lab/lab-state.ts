// <labDir>/lab.json: what `rackboot lab up` created, written as each part comes up, so that
// `rackboot lab down` removes exactly that (and a failed `up` can be cleaned up too).

import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Type, type Static } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';

const ProcessRecord = Type.Object({ name: Type.String(), pid: Type.Integer({ minimum: 2 }), startTime: Type.String(), logFile: Type.String() }, { additionalProperties: false });

export const LabState = Type.Object(
  {
    version: Type.Literal(1),
    namespace: Type.String({ pattern: '^[A-Za-z0-9_.-]{1,64}$' }),
    /** False until the namespace exists (a failed `up` may stop before). */
    namespaceCreated: Type.Boolean(),
    apiUrl: Type.Optional(Type.String()),
    processes: Type.Array(ProcessRecord),
    createdAt: Type.String(),
  },
  { additionalProperties: false },
);
export type LabState = Static<typeof LabState>;

export const labStateFile = (dir: string): string => join(dir, 'lab.json');

export type ReadLabState = { ok: true; state: LabState } | { ok: false; code: 'RB_LAB_NONE' | 'RB_LAB_STATE_INVALID'; message: string };

export function readLabState(dir: string): ReadLabState {
  const file = labStateFile(dir);
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { ok: false, code: 'RB_LAB_NONE', message: `no lab in ${dir} (${file} does not exist)` };
    return { ok: false, code: 'RB_LAB_STATE_INVALID', message: `${file}: ${err instanceof Error ? err.message : String(err)}` };
  }
  if (!Value.Check(LabState, raw)) {
    const first = [...Value.Errors(LabState, raw)][0];
    return { ok: false, code: 'RB_LAB_STATE_INVALID', message: `${file}: ${first ? `${first.path || '(root)'}: ${first.message}` : 'invalid'}` };
  }
  return { ok: true, state: raw };
}

export function writeLabState(dir: string, state: LabState): void {
  const file = labStateFile(dir);
  writeFileSync(`${file}.tmp`, `${JSON.stringify(state, null, 2)}\n`);
  renameSync(`${file}.tmp`, file);
}
