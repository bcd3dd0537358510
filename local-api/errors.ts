// Errors are values: client calls resolve to a LocalApiResult and never throw for an appliance or
// network failure. Codes are stable strings the provisioning layer switches on.

export type LocalApiErrorCode =
  /** The options given to the client cannot work (bad host, no TLS trust decision...). */
  | 'RB_LOCALAPI_BAD_CONFIG'
  /** The host's certificate does not match the pinned SHA-256 fingerprint. */
  | 'RB_LOCALAPI_TLS_PIN'
  /** Any other TLS failure. */
  | 'RB_LOCALAPI_TLS'
  /** Connection refused/reset, unreachable host (`cause` holds the errno code). */
  | 'RB_LOCALAPI_NETWORK'
  | 'RB_LOCALAPI_TIMEOUT'
  /** 401 (bad credentials, or a JWT the host no longer accepts after one fresh login). */
  | 'RB_LOCALAPI_UNAUTHORIZED'
  /** 429 still answered after every retry. */
  | 'RB_LOCALAPI_RATE_LIMITED'
  /** 400: invalid input, e.g. an expired or unknown link token. */
  | 'RB_LOCALAPI_BAD_REQUEST'
  | 'RB_LOCALAPI_FORBIDDEN'
  | 'RB_LOCALAPI_NOT_FOUND'
  /** 5xx. */
  | 'RB_LOCALAPI_SERVER_ERROR'
  /** Any other unexpected status. */
  | 'RB_LOCALAPI_HTTP'
  /** 2xx with a body that does not have the swagger's shape. */
  | 'RB_LOCALAPI_BAD_RESPONSE'
  /** The caller's AbortSignal fired (a watchdog timed the step out); nothing more is sent. */
  | 'RB_LOCALAPI_ABORTED'
  /** A local file (content bundle) could not be read. */
  | 'RB_LOCALAPI_LOCAL_IO';

export interface LocalApiError {
  code: LocalApiErrorCode;
  message: string;
  httpStatus?: number;
  method?: string;
  path?: string;
  /** `code` of the host's v1Error body, when it sent one. */
  apiCode?: string;
  /** `message` of the host's v1Error body (or its text, truncated). */
  apiMessage?: string;
  /** How many HTTP attempts were made. */
  attempts?: number;
  /** Transport error code (ECONNREFUSED...). */
  cause?: string;
}

export type LocalApiResult<T> = { ok: true; value: T } | { ok: false; error: LocalApiError };

export function ok<T>(value: T): LocalApiResult<T> {
  return { ok: true, value };
}

export function fail<T = never>(error: LocalApiError): LocalApiResult<T> {
  return { ok: false, error };
}
