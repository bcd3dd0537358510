// The one lifecycle every boot path shares (issue 6 extends the transitions; the names are fixed here).
export const MACHINE_STATES = [
  'discovered',
  'ready',
  'provisioning',
  'booting-installer',
  'installing',
  'installed',
  'host-ready',
  'linked',
  'content-synced',
  'cluster-member',
  'node-ready',
  'enrolled',
  'failed',
] as const;

export type MachineState = (typeof MACHINE_STATES)[number];

/** `installed` and the enrollment states after it: a machine in one has a finished install. */
export function hasInstalled(s: MachineState): boolean {
  return s !== 'failed' && MACHINE_STATES.indexOf(s) >= MACHINE_STATES.indexOf('installed');
}
