// multipart/form-data body for the content upload, streamed from disk: a multi-GB bundle is never
// held in memory, and the exact Content-Length is known up front (the appliance's Go server and
// proxies in front of it handle a sized body better than a chunked one).

import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { basename } from 'node:path';
import { PassThrough, type Readable } from 'node:stream';

export interface FilePart {
  /** Form field name (`uploadFile`, `signature`). */
  field: string;
  path: string;
  size: number;
}

export interface MultipartBody {
  stream: Readable;
  contentType: string;
  length: number;
}

function quoted(s: string): string {
  return s.replace(/["\\\r\n]/g, '_');
}

/** Builds the body; `onBytes` is called with the running count of file bytes read. */
export function multipartFromFiles(parts: FilePart[], onBytes: (fileBytesSent: number) => void): MultipartBody {
  const boundary = `rackboot-${randomBytes(12).toString('hex')}`;
  const heads = parts.map((p) =>
    Buffer.from(
      `--${boundary}\r\nContent-Disposition: form-data; name="${quoted(p.field)}"; filename="${quoted(basename(p.path))}"\r\n` +
        'Content-Type: application/octet-stream\r\n\r\n',
    ),
  );
  const tail = Buffer.from(`--${boundary}--\r\n`);
  const length = parts.reduce((n, p, i) => n + heads[i]!.length + p.size + 2, 0) + tail.length;

  const out = new PassThrough({ highWaterMark: 1 << 20 });
  let sent = 0;
  void (async () => {
    try {
      for (let i = 0; i < parts.length; i++) {
        if (!out.write(heads[i])) await drained(out);
        const file = createReadStream(parts[i]!.path, { highWaterMark: 1 << 20 });
        for await (const chunk of file as AsyncIterable<Buffer>) {
          sent += chunk.length;
          onBytes(sent);
          if (!out.write(chunk)) await drained(out);
          if (out.destroyed) {
            file.destroy();
            return;
          }
        }
        if (!out.write('\r\n')) await drained(out);
      }
      out.end(tail);
    } catch (err) {
      out.destroy(err as Error);
    }
  })();
  return { stream: out, contentType: `multipart/form-data; boundary=${boundary}`, length };
}

function drained(s: PassThrough): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      s.off('drain', done);
      s.off('close', done);
      resolve();
    };
    s.once('drain', done);
    s.once('close', done);
  });
}
