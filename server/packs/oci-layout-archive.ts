// An OCI image layout (image-spec image-layout.md: `oci-layout`, `index.json`, `blobs/<alg>/<hex>`)
// read straight from its tar archive: entries are indexed once (ustar headers, GNU long names) and
// blobs are streamed from their offsets, so multi-GB pack bundles are never unpacked to disk.

import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import type { Readable } from 'node:stream';

export interface OciDescriptor {
  mediaType: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
}

export interface TarEntry {
  offset: number;
  size: number;
}

export class OciLayoutArchive {
  private constructor(
    readonly path: string,
    private readonly entries: Map<string, TarEntry>,
  ) {}

  static async open(path: string): Promise<OciLayoutArchive> {
    const entries = new Map<string, TarEntry>();
    const fh = await open(path, 'r');
    try {
      const head = Buffer.alloc(512);
      let pos = 0;
      let longName: string | undefined;
      for (;;) {
        const { bytesRead } = await fh.read(head, 0, 512, pos);
        if (bytesRead < 512 || head.every((b) => b === 0)) break;
        const size = parseInt(head.subarray(124, 136).toString('ascii').replace(/\0.*$/s, '').trim() || '0', 8);
        const type = String.fromCharCode(head[156]!);
        const prefix = head.subarray(345, 500).toString('utf8').replace(/\0.*$/s, '');
        let name = head.subarray(0, 100).toString('utf8').replace(/\0.*$/s, '');
        if (prefix !== '' && head.subarray(257, 262).toString('ascii') === 'ustar') name = `${prefix}/${name}`;
        const data = pos + 512;
        if (type === 'L') {
          const b = Buffer.alloc(size);
          await fh.read(b, 0, size, data);
          longName = b.toString('utf8').replace(/\0.*$/s, '');
        } else {
          if (longName !== undefined) name = longName;
          longName = undefined;
          if (type === '0' || type === '\0') entries.set(name.replace(/^\.\//, ''), { offset: data, size });
        }
        pos = data + Math.ceil(size / 512) * 512;
      }
    } finally {
      await fh.close();
    }
    if (!entries.has('oci-layout') || !entries.has('index.json')) throw new Error(`${path} is not an OCI image layout archive (no oci-layout or index.json)`);
    return new OciLayoutArchive(path, entries);
  }

  async readJson<T>(name: string): Promise<T> {
    const e = this.entries.get(name);
    if (e === undefined) throw new Error(`${name} is missing from ${this.path}`);
    const fh = await open(this.path, 'r');
    try {
      const b = Buffer.alloc(e.size);
      await fh.read(b, 0, e.size, e.offset);
      return JSON.parse(b.toString('utf8')) as T;
    } finally {
      await fh.close();
    }
  }

  blobEntry(digest: string): TarEntry | undefined {
    const [alg, hex] = digest.split(':');
    return this.entries.get(`blobs/${alg}/${hex}`);
  }

  /** Bytes [start, end) of a blob. */
  blobStream(digest: string, start = 0, end?: number): Readable {
    const e = this.blobEntry(digest);
    if (e === undefined) throw new Error(`blob ${digest} is missing from ${this.path}`);
    return createReadStream(this.path, { start: e.offset + start, end: e.offset + (end ?? e.size) - 1 });
  }

  async readBlob(digest: string): Promise<Buffer> {
    const chunks: Buffer[] = [];
    for await (const c of this.blobStream(digest) as AsyncIterable<Buffer>) chunks.push(c);
    return Buffer.concat(chunks);
  }
}
