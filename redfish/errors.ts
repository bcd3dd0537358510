// Errors are values with a stable code (fastify/undici style). Callers branch on `code`, show
// `message`, and may inspect `status` and the BMC's own `@Message.ExtendedInfo` in `messages`.

import { asArray, isRecord, str } from './json.js';

export const RedfishErrorCodes = [
  /** The BMC answered with an HTTP error that no more specific code covers. */
  'RB_REDFISH_HTTP',
  /** Credentials were rejected (401/403), or a session could not be established. */
  'RB_REDFISH_AUTH',
  /** The TLS handshake failed (untrusted chain, wrong host name, expired certificate...). */
  'RB_REDFISH_TLS',
  /** The BMC's leaf certificate does not match the pinned SHA-256 fingerprint. */
  'RB_REDFISH_TLS_PIN',
  /** A request, a task or a state change did not finish in time. */
  'RB_REDFISH_TIMEOUT',
  /** The BMC could not be reached (refused, reset, unreachable) after the allowed retries. */
  'RB_REDFISH_CONNECTION',
  /** The BMC does not offer what was asked (no such action, target, slot or protocol). */
  'RB_REDFISH_UNSUPPORTED',
  /** The BMC accepted a boot override but reading it back shows it was not applied. */
  'RB_REDFISH_BOOT_NOT_APPLIED',
  /** The BMC accepted a media insert but reading the slot back shows no such image. */
  'RB_REDFISH_MEDIA_NOT_APPLIED',
  /** A Redfish task ended in Exception, Killed, Cancelled or with a Critical status. */
  'RB_REDFISH_TASK_FAILED',
  /** Several systems and no systemId: the client never acts on "all systems". */
  'RB_REDFISH_SYSTEM_AMBIGUOUS',
  /** No system (or not the configured systemId) behind this service root. */
  'RB_REDFISH_SYSTEM_NOT_FOUND',
  /** PATCH kept failing its If-Match precondition after the whole ETag ladder. */
  'RB_REDFISH_PRECONDITION',
  /** The BMC answered with something that is not the Redfish JSON we need. */
  'RB_REDFISH_BAD_RESPONSE',
  /** The caller passed an invalid option or argument. */
  'RB_REDFISH_INVALID_ARGUMENT',
  /** The client was used after close(). */
  'RB_REDFISH_CLOSED',
] as const;

export type RedfishErrorCode = (typeof RedfishErrorCodes)[number];

/** One entry of `@Message.ExtendedInfo` (or of a Task's `Messages`). */
export interface RedfishMessage {
  messageId?: string;
  message?: string;
  severity?: string;
  resolution?: string;
  messageArgs: string[];
  relatedProperties: string[];
}

export interface RedfishErrorInit {
  status?: number;
  method?: string;
  path?: string;
  /** The error body's `error.code` (e.g. `Base.1.8.GeneralError`). */
  redfishCode?: string;
  messages?: RedfishMessage[];
  cause?: unknown;
}

export class RedfishError extends Error {
  override readonly name = 'RedfishError';
  readonly code: RedfishErrorCode;
  readonly status: number | undefined;
  readonly method: string | undefined;
  readonly path: string | undefined;
  readonly redfishCode: string | undefined;
  readonly messages: RedfishMessage[];

  constructor(code: RedfishErrorCode, message: string, init: RedfishErrorInit = {}) {
    super(message, init.cause === undefined ? undefined : { cause: init.cause });
    this.code = code;
    this.status = init.status;
    this.method = init.method;
    this.path = init.path;
    this.redfishCode = init.redfishCode;
    this.messages = init.messages ?? [];
  }

  /** True when any ExtendedInfo MessageId ends with `suffix` (registry versions differ, e.g. `Base.1.5.` vs `Base.1.12.`). */
  hasMessageId(suffix: string): boolean {
    return hasMessageId(this.messages, suffix);
  }
}

export function isRedfishError(err: unknown, code?: RedfishErrorCode): err is RedfishError {
  return err instanceof RedfishError && (code === undefined || err.code === code);
}

export function hasMessageId(messages: readonly RedfishMessage[], suffix: string): boolean {
  const s = suffix.toLowerCase();
  return messages.some((m) => {
    const id = m.messageId?.toLowerCase();
    return id !== undefined && (id === s || id.endsWith(`.${s}`));
  });
}

function stringList(v: unknown): string[] {
  // Dell sends "MessageArgs": "[]" (a string) next to MessageArgs@odata.count (sushy oem_dell samples).
  if (typeof v === 'string') {
    const t = v.trim();
    if (t === '' || t === '[]') return [];
    return [v];
  }
  return asArray(v).filter((x): x is string => typeof x === 'string');
}

/** Parses one Message object; tolerant of the vendor spellings seen in the field. */
export function parseRedfishMessage(v: unknown): RedfishMessage | undefined {
  if (!isRecord(v)) return undefined;
  const m: RedfishMessage = {
    messageArgs: stringList(v['MessageArgs']),
    relatedProperties: stringList(v['RelatedProperties']).filter((p) => p !== ''),
  };
  const id = str(v['MessageId']);
  if (id !== undefined && id !== '') m.messageId = id;
  const text = str(v['Message']);
  if (text !== undefined && text !== '') m.message = text;
  const sev = str(v['Severity']) ?? str(v['MessageSeverity']);
  if (sev !== undefined && sev !== '') m.severity = sev;
  const res = str(v['Resolution']);
  if (res !== undefined && res !== '') m.resolution = res;
  return m;
}

/** Messages from an ExtendedInfo value that may be an array or (iDRAC) a single object. */
export function parseMessageList(v: unknown): RedfishMessage[] {
  const items = Array.isArray(v) ? v : v === undefined || v === null ? [] : [v];
  const out: RedfishMessage[] = [];
  for (const item of items) {
    const m = parseRedfishMessage(item);
    if (m !== undefined && (m.messageId !== undefined || m.message !== undefined)) out.push(m);
  }
  return out;
}

export interface ParsedErrorBody {
  redfishCode?: string;
  message?: string;
  messages: RedfishMessage[];
}

/**
 * Parses a Redfish error body: `{"error": {"code", "message", "@Message.ExtendedInfo"}}`. Also accepts
 * the inner object alone (as gofish's sample) and a resource-level `@Message.ExtendedInfo`.
 */
export function parseErrorBody(body: unknown): ParsedErrorBody {
  if (!isRecord(body)) return { messages: [] };
  const inner = isRecord(body['error']) ? body['error'] : body;
  const out: ParsedErrorBody = { messages: parseMessageList(inner['@Message.ExtendedInfo']) };
  const code = str(inner['code']);
  if (code !== undefined) out.redfishCode = code;
  const message = str(inner['message']);
  if (message !== undefined) out.message = message;
  return out;
}

/** Builds the error for an HTTP failure, picking AUTH for 401/403 and folding the BMC's messages in. */
export function httpError(status: number, method: string, path: string, body: unknown, what?: string): RedfishError {
  const parsed = parseErrorBody(body);
  const detail = parsed.messages.find((m) => m.message !== undefined)?.message ?? parsed.message;
  const code: RedfishErrorCode = status === 401 || status === 403 ? 'RB_REDFISH_AUTH' : 'RB_REDFISH_HTTP';
  const head = `${what ?? `${method} ${path}`} failed with HTTP ${status}`;
  return new RedfishError(code, detail === undefined ? head : `${head}: ${detail}`, {
    status,
    method,
    path,
    messages: parsed.messages,
    ...(parsed.redfishCode === undefined ? {} : { redfishCode: parsed.redfishCode }),
  });
}
