// Streaming multipart/form-data reader (RFC 7578): hashes and counts each file part as it arrives,
// so a multi-GB upload never sits in memory, the way the appliance writes it straight to disk.

import { createHash, type Hash } from 'node:crypto';

export interface ReceivedPart {
  field: string;
  filename: string;
  size: number;
  sha256: string;
}

export class MultipartReader {
  private buf: Buffer = Buffer.alloc(0);
  private state: 'preamble' | 'headers' | 'body' | 'done' = 'preamble';
  private readonly delim: Buffer;
  private cur: { field: string; filename: string; size: number; hash: Hash } | undefined;
  readonly parts: ReceivedPart[] = [];
  error: string | undefined;

  constructor(boundary: string) {
    this.delim = Buffer.from(`\r\n--${boundary}`);
    // The first boundary has no leading CRLF: pretend it had one.
    this.buf = Buffer.from('\r\n');
  }

  static boundaryOf(contentType: string | undefined): string | undefined {
    const m = /^multipart\/form-data;.*\bboundary=(?:"([^"]+)"|([^;\s]+))/i.exec(contentType ?? '');
    return m === null ? undefined : (m[1] ?? m[2]);
  }

  get complete(): boolean {
    return this.state === 'done' && this.error === undefined;
  }

  write(chunk: Buffer): void {
    if (this.error !== undefined || this.state === 'done') return;
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    for (;;) {
      if (this.state === 'preamble') {
        const i = this.buf.indexOf(this.delim);
        if (i < 0) {
          this.keepTail();
          return;
        }
        this.buf = this.buf.subarray(i + this.delim.length);
        this.state = 'headers';
      } else if (this.state === 'headers') {
        if (this.buf.length < 2) return;
        if (this.buf.subarray(0, 2).toString() === '--') {
          this.state = 'done';
          return;
        }
        const end = this.buf.indexOf('\r\n\r\n');
        if (end < 0) {
          if (this.buf.length > 16_384) this.error = 'part headers too long';
          return;
        }
        const head = this.buf.subarray(0, end).toString('utf8');
        this.buf = this.buf.subarray(end + 4);
        const disp = /content-disposition:\s*form-data;([^\r\n]*)/i.exec(head);
        const field = disp === null ? undefined : /\bname="([^"]*)"/.exec(disp[1]!)?.[1];
        if (field === undefined) {
          this.error = 'part without a form-data name';
          return;
        }
        const filename = /\bfilename="([^"]*)"/.exec(disp![1]!)?.[1] ?? '';
        this.cur = { field, filename, size: 0, hash: createHash('sha256') };
        this.state = 'body';
      } else if (this.state === 'body') {
        const i = this.buf.indexOf(this.delim);
        if (i < 0) {
          const keep = this.delim.length - 1;
          if (this.buf.length > keep) {
            this.feed(this.buf.subarray(0, this.buf.length - keep));
            this.buf = this.buf.subarray(this.buf.length - keep);
          }
          return;
        }
        this.feed(this.buf.subarray(0, i));
        const c = this.cur!;
        this.parts.push({ field: c.field, filename: c.filename, size: c.size, sha256: c.hash.digest('hex') });
        this.cur = undefined;
        this.buf = this.buf.subarray(i + this.delim.length);
        this.state = 'headers';
      } else return;
    }
  }

  private feed(b: Buffer): void {
    this.cur!.size += b.length;
    this.cur!.hash.update(b);
  }

  private keepTail(): void {
    const keep = this.delim.length - 1;
    if (this.buf.length > keep) this.buf = this.buf.subarray(this.buf.length - keep);
  }
}
