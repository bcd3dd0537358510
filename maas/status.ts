// The 23 MAAS node statuses: numeric `status` (canonical/maas src/maascommon/enums/node.py), the exact
// `status_name` strings (src/maasserver/enum.py NODE_STATUS_CHOICES; note 'Releasing failed' and
// 'Failed to enter/exit rescue mode') and the lower-case constant names the machine list's `status`
// filter takes (src/maasserver/node_constraint_filter_forms.py).

export const MAAS_STATUS = {
  NEW: 0,
  COMMISSIONING: 1,
  FAILED_COMMISSIONING: 2,
  MISSING: 3,
  READY: 4,
  RESERVED: 5,
  DEPLOYED: 6,
  RETIRED: 7,
  BROKEN: 8,
  DEPLOYING: 9,
  ALLOCATED: 10,
  FAILED_DEPLOYMENT: 11,
  RELEASING: 12,
  FAILED_RELEASING: 13,
  DISK_ERASING: 14,
  FAILED_DISK_ERASING: 15,
  RESCUE_MODE: 16,
  ENTERING_RESCUE_MODE: 17,
  FAILED_ENTERING_RESCUE_MODE: 18,
  EXITING_RESCUE_MODE: 19,
  FAILED_EXITING_RESCUE_MODE: 20,
  TESTING: 21,
  FAILED_TESTING: 22,
} as const;

export type MaasStatusConstant = keyof typeof MAAS_STATUS;
export type MaasStatusCode = (typeof MAAS_STATUS)[MaasStatusConstant];
/** The value the machine list's `status` filter takes, e.g. 'failed_deployment'. */
export type MaasStatusFilter = Lowercase<MaasStatusConstant>;

export const MAAS_STATUS_NAMES: Readonly<Record<MaasStatusCode, string>> = {
  0: 'New',
  1: 'Commissioning',
  2: 'Failed commissioning',
  3: 'Missing',
  4: 'Ready',
  5: 'Reserved',
  6: 'Deployed',
  7: 'Retired',
  8: 'Broken',
  9: 'Deploying',
  10: 'Allocated',
  11: 'Failed deployment',
  12: 'Releasing',
  13: 'Releasing failed',
  14: 'Disk erasing',
  15: 'Failed disk erasing',
  16: 'Rescue mode',
  17: 'Entering rescue mode',
  18: 'Failed to enter rescue mode',
  19: 'Exiting rescue mode',
  20: 'Failed to exit rescue mode',
  21: 'Testing',
  22: 'Failed testing',
};

export const ALL_MAAS_STATUS_CODES: readonly MaasStatusCode[] = Object.values(MAAS_STATUS);

const BY_CODE = new Map<number, MaasStatusConstant>(
  (Object.entries(MAAS_STATUS) as [MaasStatusConstant, MaasStatusCode][]).map(([k, v]) => [v, k]),
);
const BY_NAME = new Map<string, MaasStatusCode>(
  (Object.entries(MAAS_STATUS_NAMES) as [string, string][]).map(([k, v]) => [v.toLowerCase(), Number(k) as MaasStatusCode]),
);

export function isMaasStatusCode(n: unknown): n is MaasStatusCode {
  return typeof n === 'number' && BY_CODE.has(n);
}

export function statusConstant(code: MaasStatusCode): MaasStatusConstant {
  return BY_CODE.get(code)!;
}

export function statusFilterName(code: MaasStatusCode): MaasStatusFilter {
  return statusConstant(code).toLowerCase() as MaasStatusFilter;
}

/** 'Failed deployment' -> 11 (case-insensitive); undefined for names MAAS does not use. */
export function statusFromName(name: string): MaasStatusCode | undefined {
  return BY_NAME.get(name.trim().toLowerCase());
}

/** 'failed_deployment' or 'FAILED_DEPLOYMENT' -> 11. */
export function statusFromFilterName(name: string): MaasStatusCode | undefined {
  const k = name.trim().toUpperCase();
  return k in MAAS_STATUS ? MAAS_STATUS[k as MaasStatusConstant] : undefined;
}

/** A machine's status as this library understands it; unknown future codes are kept, not rejected. */
export interface MaasStatusInfo {
  code: number;
  /** The constant when the code is one of the 23 known statuses. */
  constant: MaasStatusConstant | null;
  /** MAAS's status_name when given, else the known name, else `Unknown (<code>)`. */
  name: string;
  known: boolean;
}

export function describeStatus(code: number, statusName?: string | null): MaasStatusInfo {
  if (isMaasStatusCode(code)) {
    return { code, constant: statusConstant(code), name: statusName ?? MAAS_STATUS_NAMES[code], known: true };
  }
  return { code, constant: null, name: statusName ?? `Unknown (${code})`, known: false };
}

const FAILED = new Set<number>([
  MAAS_STATUS.FAILED_COMMISSIONING,
  MAAS_STATUS.FAILED_DEPLOYMENT,
  MAAS_STATUS.FAILED_RELEASING,
  MAAS_STATUS.FAILED_DISK_ERASING,
  MAAS_STATUS.FAILED_ENTERING_RESCUE_MODE,
  MAAS_STATUS.FAILED_EXITING_RESCUE_MODE,
  MAAS_STATUS.FAILED_TESTING,
]);

/** Statuses MAAS is actively working through (it will move on by itself or time out). */
const TRANSIENT = new Set<number>([
  MAAS_STATUS.COMMISSIONING,
  MAAS_STATUS.DEPLOYING,
  MAAS_STATUS.RELEASING,
  MAAS_STATUS.DISK_ERASING,
  MAAS_STATUS.ENTERING_RESCUE_MODE,
  MAAS_STATUS.EXITING_RESCUE_MODE,
  MAAS_STATUS.TESTING,
]);

export const isDeployed = (code: number): boolean => code === MAAS_STATUS.DEPLOYED;
export const isDeploying = (code: number): boolean => code === MAAS_STATUS.DEPLOYING;
export const isReady = (code: number): boolean => code === MAAS_STATUS.READY;
export const isAllocated = (code: number): boolean => code === MAAS_STATUS.ALLOCATED;
export const isBroken = (code: number): boolean => code === MAAS_STATUS.BROKEN;
/** Any FAILED_* status (MAAS's own FAILED_STATUSES list). Broken is not "failed" in MAAS's sense. */
export const isFailed = (code: number): boolean => FAILED.has(code);
/** In progress: MAAS will change the status without being asked. */
export const isTransient = (code: number): boolean => TRANSIENT.has(code);

/**
 * Where a deployment poll can stop: Deployed (success), Failed deployment, Broken, Allocated (after
 * an abort) and Ready (someone released it). Everything else, unknown codes included, means keep polling.
 */
export function isDeployTerminal(code: number): boolean {
  return (
    code === MAAS_STATUS.DEPLOYED ||
    code === MAAS_STATUS.FAILED_DEPLOYMENT ||
    code === MAAS_STATUS.BROKEN ||
    code === MAAS_STATUS.ALLOCATED ||
    code === MAAS_STATUS.READY
  );
}

/** Deploy is legal from Ready (MAAS allocates implicitly) or Allocated (src/maasserver/node_status.py). */
export function canDeploy(code: number): boolean {
  return code === MAAS_STATUS.READY || code === MAAS_STATUS.ALLOCATED;
}

/** MAAS's RELEASABLE_STATUSES (src/maasserver/models/node.py); Ready and Releasing are accepted as no-ops. */
export function canRelease(code: number): boolean {
  return (
    code === MAAS_STATUS.ALLOCATED ||
    code === MAAS_STATUS.RESERVED ||
    code === MAAS_STATUS.BROKEN ||
    code === MAAS_STATUS.DEPLOYING ||
    code === MAAS_STATUS.DEPLOYED ||
    code === MAAS_STATUS.FAILED_DEPLOYMENT ||
    code === MAAS_STATUS.FAILED_DISK_ERASING ||
    code === MAAS_STATUS.FAILED_RELEASING ||
    code === MAAS_STATUS.READY ||
    code === MAAS_STATUS.RELEASING
  );
}

export type MaasSimpleStatus =
  | 'New'
  | 'Commissioning'
  | 'Ready'
  | 'Allocated'
  | 'Deploying'
  | 'Deployed'
  | 'Releasing'
  | 'Broken'
  | 'Failed'
  | 'Rescue Mode'
  | 'Testing'
  | 'Other';

/** MAAS's simplified status (the `simple_status` filter). */
export function simpleStatus(code: number): MaasSimpleStatus {
  switch (code) {
    case MAAS_STATUS.NEW:
      return 'New';
    case MAAS_STATUS.COMMISSIONING:
      return 'Commissioning';
    case MAAS_STATUS.READY:
      return 'Ready';
    case MAAS_STATUS.ALLOCATED:
      return 'Allocated';
    case MAAS_STATUS.DEPLOYING:
      return 'Deploying';
    case MAAS_STATUS.DEPLOYED:
      return 'Deployed';
    case MAAS_STATUS.RELEASING:
    case MAAS_STATUS.DISK_ERASING:
      return 'Releasing';
    case MAAS_STATUS.BROKEN:
      return 'Broken';
    case MAAS_STATUS.RESCUE_MODE:
    case MAAS_STATUS.ENTERING_RESCUE_MODE:
    case MAAS_STATUS.EXITING_RESCUE_MODE:
      return 'Rescue Mode';
    case MAAS_STATUS.TESTING:
      return 'Testing';
    default:
      return isFailed(code) ? 'Failed' : 'Other';
  }
}
