import { request, type ClientRequest, type IncomingMessage } from 'node:http';

export interface SseMessage {
  id: string | null;
  event: string;
  data: string;
}

export interface SseConnection {
  status: number;
  headers: IncomingMessage['headers'];
  /** Messages received so far, in order. */
  messages: SseMessage[];
  /** The raw body when the answer was not a stream. */
  body(): Promise<string>;
  /** Resolves once `count` messages have arrived (or rejects after timeoutMs). */
  waitFor(count: number, timeoutMs?: number): Promise<SseMessage[]>;
  close(): void;
}

/** A server-sent events client on node:http, parsing the stream as the HTML standard describes. */
export function openSse(url: string, headers: Record<string, string> = {}): Promise<SseConnection> {
  return new Promise((resolve, reject) => {
    const req: ClientRequest = request(url, { headers: { accept: 'text/event-stream', ...headers } }, (res) => {
      const messages: SseMessage[] = [];
      const waiters: Array<() => void> = [];
      let raw = '';
      let buf = '';
      let cur: SseMessage = { id: null, event: 'message', data: '' };
      let hasData = false;
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        raw += chunk;
        buf += chunk;
        let nl: number;
        while ((nl = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, nl).replace(/\r$/, '');
          buf = buf.slice(nl + 1);
          if (line === '') {
            if (hasData) messages.push({ ...cur, data: cur.data.replace(/\n$/, '') });
            cur = { id: null, event: 'message', data: '' };
            hasData = false;
            for (const w of waiters.splice(0)) w();
            continue;
          }
          if (line.startsWith(':')) continue;
          const colon = line.indexOf(':');
          const field = colon < 0 ? line : line.slice(0, colon);
          const value = colon < 0 ? '' : line.slice(colon + (line[colon + 1] === ' ' ? 2 : 1));
          if (field === 'data') {
            cur.data += `${value}\n`;
            hasData = true;
          } else if (field === 'event') cur.event = value;
          else if (field === 'id') cur.id = value;
        }
      });
      res.on('error', () => undefined);
      const ended = new Promise<void>((r) => res.once('close', () => r()));
      resolve({
        status: res.statusCode ?? 0,
        headers: res.headers,
        messages,
        body: async () => (await ended, raw),
        waitFor: (count, timeoutMs = 10_000) =>
          new Promise((ok, fail) => {
            const t = setTimeout(() => fail(new Error(`only ${messages.length} of ${count} SSE messages arrived: ${JSON.stringify(messages)}`)), timeoutMs);
            const check = () => {
              if (messages.length >= count) {
                clearTimeout(t);
                ok(messages.slice(0, count));
              } else waiters.push(check);
            };
            check();
          }),
        close: () => req.destroy(),
      });
    });
    req.on('error', reject);
    req.end();
  });
}
