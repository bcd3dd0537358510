// Which machines a bulk request means: an explicit list (ids or names) or a selector over the inventory.

import { Type, type Static } from '@sinclair/typebox';
import { MachineStateSchema, type Machine } from '../inventory/machine.js';
import type { MachineState } from '../lifecycle/states.js';
import type { MachineRepo } from '../store/types.js';

export const SelectorSchema = Type.Object(
  {
    tag: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
    rack: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
    state: Type.Optional(MachineStateSchema),
  },
  { additionalProperties: false, minProperties: 1 },
);
export type Selector = Static<typeof SelectorSchema>;

export interface Selection {
  machines: Machine[];
  /** Names or ids in the list that match no machine. */
  unknown: string[];
}

const PAGE = 1000;

export async function selectMachines(repo: MachineRepo, target: { machines: string[] } | { selector: Selector }): Promise<Selection> {
  if ('machines' in target) {
    const out: Machine[] = [];
    const unknown: string[] = [];
    for (const ref of new Set(target.machines)) {
      const m = /^[0-9a-f-]{36}$/.test(ref) ? await repo.get(ref) : await repo.findByName(ref);
      if (m === null) unknown.push(ref);
      else if (!out.some((x) => x.id === m.id)) out.push(m);
    }
    return { machines: out, unknown };
  }
  const { tag, rack, state } = target.selector;
  const out: Machine[] = [];
  for (let offset = 0; ; offset += PAGE) {
    const page = await repo.list({ ...(tag === undefined ? {} : { tag }), ...(rack === undefined ? {} : { rack }), ...(state === undefined ? {} : { state: state as MachineState }), limit: PAGE, offset });
    out.push(...page.items);
    if (page.items.length < PAGE) break;
  }
  return { machines: out, unknown: [] };
}
