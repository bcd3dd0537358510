// Boot resources, after canonical/maas 3.6.5 src/maasserver/api/boot_resources.py:
// boot_resource_to_dict / boot_resource_set_to_dict / boot_resource_file_to_dict (incomplete files
// carry `progress` = BootResourceFile.sync_progress, a percentage of size * regions, and `upload_uri`),
// BootResourcesHandler.create (201; BootResourceNoContentForm needs sha256 + size when no content) and
// BootResourceFileUploadHandler.update (append-only PUT; "Missing data.", "Cannot upload to a complete
// file.", "Too much data received.", "Saved content does not match given SHA256 value.").
// Single region: progress = 100 * received / size.

import { createHash } from 'node:crypto';
import { badRequest, fieldErrors, forbidden, json, notFound, type ParsedRequest, type Reply } from './http.js';
import type { StandinBootFile, StandinBootResource, StandinBootSet, StandinState } from './state.js';

/** Upload `filetype` -> [stored filetype, filename] (BootResourceForm.get_resource_filetype, MAAS 3.x). */
export const FILETYPES: Record<string, [string, string]> = {
  tgz: ['root-tgz', 'root.tgz'],
  tbz: ['root-tbz', 'root.tbz'],
  txz: ['root-txz', 'root.txz'],
  ddraw: ['root-dd.raw', 'root-dd.raw'],
  ddgz: ['root-dd.gz', 'root-dd.gz'],
  ddxz: ['root-dd.xz', 'root-dd.xz'],
  ddbz2: ['root-dd.bz2', 'root-dd.bz2'],
  ddtgz: ['root-dd', 'root-dd'],
  ddtbz: ['root-dd.tar.bz2', 'root-dd.tar.bz2'],
  ddtxz: ['root-dd.tar.xz', 'root-dd.tar.xz'],
  ddtar: ['root-dd.tar', 'root-dd.tar'],
};

const fileComplete = (f: StandinBootFile): boolean => f.received === f.size;

function fileToDict(r: StandinBootResource, f: StandinBootFile): Record<string, unknown> {
  const d: Record<string, unknown> = {
    filename: f.filename,
    filetype: f.filetype,
    sha256: f.sha256,
    filename_on_disk: f.filename_on_disk,
    size: f.size,
    complete: r.rtype === 'Synced' ? true : fileComplete(f),
  };
  if (d['complete'] !== true) {
    d['progress'] = f.size > 0 ? (100.0 * f.received) / f.size : 0;
    if (r.rtype === 'Uploaded') d['upload_uri'] = `/MAAS/api/2.0/boot-resources/${r.id}/upload/${f.id}/`;
  }
  return d;
}

function setToDict(r: StandinBootResource, s: StandinBootSet): Record<string, unknown> {
  const size = s.files.reduce((n, f) => n + f.size, 0);
  const complete = r.rtype === 'Synced' || s.files.every(fileComplete);
  const d: Record<string, unknown> = { version: s.version, label: s.label, size, complete };
  if (!complete) {
    const received = s.files.reduce((n, f) => n + f.received, 0);
    d['progress'] = size > 0 ? (100.0 * received) / size : 0;
  }
  const files: Record<string, unknown> = {};
  for (const f of s.files) files[f.filename] = fileToDict(r, f);
  d['files'] = files;
  return d;
}

export function resourceToDict(r: StandinBootResource, withSets: boolean): Record<string, unknown> {
  const d: Record<string, unknown> = {
    id: r.id,
    type: r.rtype,
    name: r.name,
    architecture: r.architecture,
    resource_uri: `/MAAS/api/2.0/boot-resources/${r.id}/`,
    last_deployed: null,
    subarches: r.subarches,
  };
  if (r.rtype === 'Uploaded') d['title'] = r.title;
  if (r.base_image !== null) d['base_image'] = r.base_image;
  if (withSets) {
    const sets: Record<string, unknown> = {};
    for (const s of [...r.sets].sort((a, b) => b.id - a.id)) sets[s.version] = setToDict(r, s);
    d['sets'] = sets;
  }
  return d;
}

export function listResources(st: StandinState, req: ParsedRequest): Reply {
  const type = req.query.get('type') ?? 'all';
  const map: Record<string, string> = { synced: 'Synced', uploaded: 'Uploaded' };
  if (type !== 'all' && !(type in map)) return badRequest(`'${type}' is not a valid boot resource type. Available types: ['synced', 'uploaded']`);
  const list = st.bootResources.filter((r) => type === 'all' || r.rtype === map[type]);
  return json(list.map((r) => resourceToDict(r, false)));
}

export function readResource(st: StandinState, id: string): Reply {
  const r = st.bootResources.find((x) => String(x.id) === id);
  return r === undefined ? notFound('BootResource') : json(resourceToDict(r, true));
}

export function deleteResource(st: StandinState, req: ParsedRequest, id: string): Reply {
  if (!req.user!.isAdmin) return forbidden();
  const i = st.bootResources.findIndex((x) => String(x.id) === id);
  if (i >= 0) st.bootResources.splice(i, 1);
  return { status: 204, contentType: 'text/plain; charset=utf-8', body: '' };
}

export function createResource(st: StandinState, req: ParsedRequest): Reply {
  if (!req.user!.isAdmin) return forbidden();
  // create() copies request.data, so JSON is accepted here.
  const d = req.data;
  const content = req.files.get('content');
  const errors: Record<string, string[]> = {};
  const nameIn = d.get('name') ?? '';
  const architecture = d.get('architecture') ?? '';
  const filetypeIn = d.get('filetype') ?? 'tgz';
  if (nameIn === '') errors['name'] = ['This field is required.'];
  if (architecture === '') errors['architecture'] = ['This field is required.'];
  if (!(filetypeIn in FILETYPES)) {
    errors['filetype'] = [`Select a valid choice. ${filetypeIn} is not one of the available choices.`];
  }
  let sha256 = d.get('sha256') ?? '';
  let size = Number(d.get('size') ?? NaN);
  if (content === undefined) {
    if (sha256 === '') errors['sha256'] = ['This field is required.'];
    if (d.get('size') === undefined) errors['size'] = ['This field is required.'];
    else if (!Number.isSafeInteger(size) || size <= 0) errors['size'] = ['Enter a whole number.'];
  } else {
    sha256 = createHash('sha256').update(content.data).digest('hex');
    size = content.data.length;
  }
  let name = nameIn;
  if (name.startsWith('custom/')) name = name.slice('custom/'.length);
  else if (name.includes('/') && errors['name'] === undefined) {
    const os = name.split('/')[0]!;
    if (os === 'ubuntu') errors['name'] = [`${name.split('/')[1]} has no kernels available.`];
    else errors['name'] = [`${name} is not a supported operating system and release combination.`];
  }
  if (Object.keys(errors).length > 0) return fieldErrors(errors);
  const [filetype, filename] = FILETYPES[filetypeIn]!;
  const { resource, file } = st.createUploaded({
    name,
    architecture,
    title: d.get('title') ?? '',
    base_image: d.get('base_image') ?? `ubuntu/${st.commissioningSeries}`,
    filetype,
    filename,
    sha256,
    size,
  });
  if (content !== undefined) {
    file.chunks.push(content.data);
    file.received = content.data.length;
  }
  return json(resourceToDict(resource, true), 201);
}

export interface UploadDrop {
  when: 'before-store' | 'after-store';
  /** Chunks to let through (across all uploads) before dropping. */
  afterChunks: number;
  remaining: number;
}

/** PUT /boot-resources/{id}/upload/{file_id}/: append one chunk. */
export function uploadChunk(
  st: StandinState,
  req: ParsedRequest,
  id: string,
  fileId: string,
  drop: () => 'before-store' | 'after-store' | null,
): Reply | { drop: true } {
  const r = st.bootResources.find((x) => String(x.id) === id);
  if (r === undefined) return notFound('BootResource');
  const f = r.sets.flatMap((s) => s.files).find((x) => String(x.id) === fileId);
  if (f === undefined) return notFound('BootResourceFile');
  if (!req.user!.isAdmin) return forbidden();
  const size = req.contentLength ?? 0;
  const data = req.raw;
  if (size === 0) return badRequest('Missing data.');
  if (size !== data.length) return badRequest("Content-Length doesn't equal size of received data.");
  if (r.rtype !== 'Uploaded') return forbidden(`Cannot upload to a resource of type: ${r.rtype}.`);
  if (f.received === f.size) return badRequest('Cannot upload to a complete file.');
  const when = drop();
  if (when === 'before-store') return { drop: true };
  if (f.received + data.length > f.size) return badRequest('Too much data received.');
  f.chunks.push(Buffer.from(data));
  f.received += data.length;
  if (f.received === f.size) {
    const digest = createHash('sha256');
    for (const c of f.chunks) digest.update(c);
    if (digest.digest('hex') !== f.sha256) {
      // The store is unlinked and the size update never saved: nothing of this chunk stays.
      f.chunks.pop();
      f.received -= data.length;
      return badRequest('Saved content does not match given SHA256 value.');
    }
  }
  if (when === 'after-store') return { drop: true };
  // rc.ALL_OK
  return { status: 200, contentType: 'text/plain', body: 'OK' };
}

export function assembled(st: StandinState, resourceId: number): Buffer | null {
  const r = st.bootResources.find((x) => x.id === resourceId);
  if (r === undefined) return null;
  const newest = [...r.sets].sort((a, b) => b.id - a.id)[0];
  const f = newest?.files[0];
  return f === undefined ? null : Buffer.concat(f.chunks);
}
