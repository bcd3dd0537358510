import type { ApiTarget } from './api-client.js';

/** A command that cannot go on; main prints the message and exits with the code. */
export class CliFailure extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
  }
}

export interface ProblemBody {
  title?: string;
  detail?: string;
  issues?: Array<{ line?: number; field?: string; path?: string; message?: string }>;
}

export type ApiAnswer<T> = { ok: true; status: number; body: T } | { ok: false; status: number; problem: ProblemBody };

/** One API request. An unreachable server is a CliFailure; an API error comes back as its problem document. */
export async function apiCall<T>(t: ApiTarget, method: string, path: string, body?: { json: unknown } | { text: string; type: string }): Promise<ApiAnswer<T>> {
  const headers: Record<string, string> = { ...t.headers, accept: 'application/json' };
  let payload: string | undefined;
  if (body !== undefined && 'json' in body) {
    headers['content-type'] = 'application/json';
    payload = JSON.stringify(body.json);
  } else if (body !== undefined) {
    headers['content-type'] = body.type;
    payload = body.text;
  }
  const r = await send(t, path, { method, headers, ...(payload !== undefined ? { body: payload } : {}) });
  return answer<T>(r, await r.text());
}

/** A GET whose success is not JSON (a kubeconfig): the text, or the problem document. */
export async function apiText(t: ApiTarget, path: string): Promise<ApiAnswer<string>> {
  const r = await send(t, path, { headers: t.headers });
  const text = await r.text();
  return r.ok ? { ok: true, status: r.status, body: text } : answer<string>(r, text);
}

async function send(t: ApiTarget, path: string, init: RequestInit): Promise<Response> {
  try {
    return await fetch(`${t.base}${path}`, init);
  } catch (e) {
    const cause = (e as { cause?: { code?: string; message?: string } }).cause;
    throw new CliFailure(`cannot reach ${t.base}: ${cause?.code ?? cause?.message ?? (e as Error).message}`, 1);
  }
}

function answer<T>(r: Response, text: string): ApiAnswer<T> {
  let parsed: unknown = null;
  try {
    parsed = text === '' ? null : JSON.parse(text);
  } catch {
    parsed = { detail: text.slice(0, 200) };
  }
  if (r.ok) return { ok: true, status: r.status, body: parsed as T };
  return { ok: false, status: r.status, problem: (parsed ?? {}) as ProblemBody };
}

/** Like apiCall, but an error answer is a CliFailure (exit 1) carrying the server's explanation. */
export async function apiOrFail<T>(t: ApiTarget, method: string, path: string, body?: { json: unknown } | { text: string; type: string }): Promise<T> {
  const a = await apiCall<T>(t, method, path, body);
  if (a.ok) return a.body;
  throw new CliFailure(describeProblem(a.status, a.problem), 1);
}

export function describeProblem(status: number, p: ProblemBody): string {
  const head = `${p.title ?? 'request failed'} (HTTP ${status})${p.detail ? `: ${p.detail}` : ''}`;
  const lines = (p.issues ?? []).map((i) => `  ${i.line !== undefined ? `line ${i.line}: ` : ''}${i.field ?? i.path ?? ''}${i.field || i.path ? ': ' : ''}${i.message ?? ''}`);
  return [head, ...lines].join('\n');
}

interface MachineRef {
  id: string;
  name: string;
}

/** A machine's id from its name or id, so every command takes either. */
export async function resolveMachine(t: ApiTarget, nameOrId: string): Promise<string> {
  if (/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(nameOrId)) return nameOrId;
  const found = (await listAll<MachineRef>(t, '/api/v1/machines')).find((m) => m.name === nameOrId);
  if (found === undefined) throw new CliFailure(`no machine named '${nameOrId}'`, 1);
  return found.id;
}

/** Every item of a paginated list. */
export async function listAll<T>(t: ApiTarget, path: string, query: Record<string, string> = {}): Promise<T[]> {
  const items: T[] = [];
  for (let offset = 0; ; ) {
    const qs = new URLSearchParams({ ...query, limit: '1000', offset: String(offset) });
    const page = await apiOrFail<{ items: T[]; total: number }>(t, 'GET', `${path}?${qs}`);
    items.push(...page.items);
    offset += page.items.length;
    if (page.items.length === 0 || offset >= page.total) return items;
  }
}
