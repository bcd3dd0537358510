// Errors are values: every library call resolves to a MaasResult, never throws for a MAAS or network
// failure. Codes are stable strings callers can switch on; messages carry MAAS's own text.

export type MaasErrorCode =
  /** The API key is not `consumer_key:token_key:token_secret`. */
  | 'RB_MAAS_BAD_KEY'
  /** The client was configured with an unusable base URL or option. */
  | 'RB_MAAS_BAD_CONFIG'
  /** 400: validation (field errors in `fields`), unknown op or constraint, upload problems. */
  | 'RB_MAAS_BAD_REQUEST'
  /** 401: OAuth rejected (unknown key/token, expired timestamp, replayed nonce, bad signature). */
  | 'RB_MAAS_UNAUTHORIZED'
  /** 403: not the owner, machine locked, or an admin-only operation. */
  | 'RB_MAAS_FORBIDDEN'
  /** 404: unknown system_id, tag, boot resource... */
  | 'RB_MAAS_NOT_FOUND'
  /** 409 without Retry-After: the machine is in a state that forbids the operation. */
  | 'RB_MAAS_WRONG_STATE'
  /** 409 from allocate: no machine matches the constraints (NodesNotAvailable). */
  | 'RB_MAAS_NO_MATCH'
  /** 409 with Retry-After (MAAS's serialisation conflict) still failing after every retry. */
  | 'RB_MAAS_CONFLICT'
  /** 503: no rack connection, IP exhaustion, power driver problem. */
  | 'RB_MAAS_UNAVAILABLE'
  /** 504: an RPC to the rack controller timed out (or a proxy gave up). */
  | 'RB_MAAS_GATEWAY_TIMEOUT'
  /** 500 and other 5xx. */
  | 'RB_MAAS_SERVER_ERROR'
  /** Any other unexpected HTTP status. */
  | 'RB_MAAS_HTTP'
  /** The request did not complete within timeoutMs. */
  | 'RB_MAAS_TIMEOUT'
  /** Connection refused/reset, DNS failure... (`cause` holds the errno code). */
  | 'RB_MAAS_NETWORK'
  /** The caller's AbortSignal fired. */
  | 'RB_MAAS_ABORTED'
  /** MAAS answered 2xx with a body this library cannot use (shape validation failed). */
  | 'RB_MAAS_BAD_RESPONSE'
  /** Boot-resource upload: checksum mismatch, resume impossible, never completed... */
  | 'RB_MAAS_UPLOAD'
  /** A local file could not be read. */
  | 'RB_MAAS_LOCAL_IO';

export interface MaasMachineStatusRef {
  /** Numeric status when known (from a re-read of the machine), otherwise null. */
  status: number | null;
  /** MAAS's status_name, e.g. 'Deployed', 'Failed deployment'. */
  name: string;
}

export interface MaasError {
  code: MaasErrorCode;
  message: string;
  /** HTTP status when MAAS answered. */
  httpStatus?: number;
  method?: string;
  /** Request path relative to the API root (no query string, so no secrets). */
  path?: string;
  op?: string;
  /** MAAS's response body as text (truncated), usually a plain-text sentence. */
  body?: string;
  /** Field errors of a 400 validation failure: `{"distro_series": ["..."]}`. */
  fields?: Record<string, string[]>;
  /** Retry-After header value in seconds, when MAAS sent one. */
  retryAfterSec?: number;
  /** How many HTTP attempts were made. */
  attempts?: number;
  /** For RB_MAAS_WRONG_STATE: the machine's status when MAAS refused. */
  machineStatus?: MaasMachineStatusRef;
  systemId?: string;
  /** Transport error code (ECONNRESET, ECONNREFUSED, ETIMEDOUT...). */
  cause?: string;
}

export type MaasResult<T> = { ok: true; value: T } | { ok: false; error: MaasError };

export function ok<T>(value: T): MaasResult<T> {
  return { ok: true, value };
}

export function fail<T = never>(error: MaasError): MaasResult<T> {
  return { ok: false, error };
}

/** Thrown only by `new MaasClient()` for a bad configuration; use `MaasClient.create()` to get a value instead. */
export class MaasConfigError extends Error {
  readonly maas: MaasError;
  constructor(err: MaasError) {
    super(err.message);
    this.name = 'MaasConfigError';
    this.maas = err;
  }
}
