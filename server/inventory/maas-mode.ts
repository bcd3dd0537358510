import type { MaasConfig, MaasMode } from '../config/schema.js';
import type { Machine } from './machine.js';

/**
 * How a machine is installed through MAAS, or null when MAAS has no part in it. The machine's own
 * maas.mode wins; a machine linked to MAAS (it has a maas record) otherwise takes the site's maas.mode.
 */
export function maasModeOf(m: Pick<Machine, 'maas'>, maas: MaasConfig | undefined): MaasMode | null {
  if (maas === undefined || m.maas === null) return null;
  return m.maas.mode ?? maas.mode ?? null;
}
