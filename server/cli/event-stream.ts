import type { ApiTarget } from './api-client.js';
import { CliFailure } from './api-call.js';

export interface StreamMessage {
  id: string | null;
  event: string;
  data: string;
}

/**
 * Reads rackboot's server-sent event stream (text/event-stream, as in the HTML standard). After a
 * dropped connection it reconnects with Last-Event-ID, so no event is lost or repeated. `onOpen` runs
 * once the stream is accepted, before any message is read: a snapshot read there misses nothing.
 */
export async function* followStream(t: ApiTarget, path: string, signal: AbortSignal, onOpen?: () => Promise<void>): AsyncGenerator<StreamMessage> {
  let opened = false;
  let lastId: string | null = null;
  let retryMs = 1000;
  let failures = 0;
  while (!signal.aborted) {
    let r: Response;
    try {
      r = await fetch(`${t.base}${path}`, { headers: { ...t.headers, accept: 'text/event-stream', ...(lastId !== null ? { 'last-event-id': lastId } : {}) }, signal });
    } catch (e) {
      if (signal.aborted) return;
      if (++failures >= 5) throw new CliFailure(`lost the event stream of ${t.base}: ${(e as Error).message}`, 1);
      await sleep(retryMs, signal);
      continue;
    }
    if (!r.ok || r.body === null) {
      const text = await r.text().catch(() => '');
      let detail = text.slice(0, 200);
      try {
        detail = (JSON.parse(text) as { detail?: string }).detail ?? detail;
      } catch {
        // not a problem document
      }
      throw new CliFailure(`the event stream was refused (HTTP ${r.status})${detail ? `: ${detail}` : ''}`, 1);
    }
    failures = 0;
    if (!opened && onOpen !== undefined) await onOpen();
    opened = true;
    const decoder = new TextDecoder();
    let buf = '';
    let msg: StreamMessage = { id: null, event: 'message', data: '' };
    let hasData = false;
    try {
      for await (const chunk of r.body as unknown as AsyncIterable<Uint8Array>) {
        buf += decoder.decode(chunk, { stream: true });
        let nl: number;
        while ((nl = buf.search(/\r\n|\r|\n/)) >= 0) {
          const line = buf.slice(0, nl);
          buf = buf.slice(nl + (buf.startsWith('\r\n', nl) ? 2 : 1));
          if (line === '') {
            if (hasData) {
              if (msg.id !== null) lastId = msg.id;
              yield { ...msg, data: msg.data.endsWith('\n') ? msg.data.slice(0, -1) : msg.data };
            }
            msg = { id: null, event: 'message', data: '' };
            hasData = false;
            continue;
          }
          if (line.startsWith(':')) continue;
          const colon = line.indexOf(':');
          const field = colon < 0 ? line : line.slice(0, colon);
          const value = colon < 0 ? '' : line.slice(colon + (line[colon + 1] === ' ' ? 2 : 1));
          if (field === 'data') {
            msg.data += `${value}\n`;
            hasData = true;
          } else if (field === 'event') msg.event = value;
          else if (field === 'id' && !value.includes('\0')) msg.id = value;
          else if (field === 'retry' && /^\d+$/.test(value)) retryMs = Number(value);
        }
      }
    } catch {
      // A dropped connection: reconnect below with Last-Event-ID.
      if (signal.aborted) return;
    }
    await sleep(retryMs, signal);
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => (clearTimeout(t), resolve()), { once: true });
  });
}
