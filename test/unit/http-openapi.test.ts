import { Value } from '@sinclair/typebox/value';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VIEWER_WRITABLE_PATHS } from '../../server/http/access-control.js';
import { ProblemSchema } from '../../server/http/problem.js';
import { buildHttpFixture, type HttpFixture } from '../support/http-fixture.js';
import { openSse } from '../support/sse-client.js';

// The served OpenAPI document is the list of routes: walking it checks authorization on every route
// and method, so a route added later is covered without touching this test.

interface Operation {
  security?: unknown[];
  parameters?: Array<{ in: string; name: string; required?: boolean }>;
  requestBody?: { content: Record<string, unknown> };
  responses: Record<string, { content?: Record<string, { schema: unknown }> }>;
  /** Set on reads that return credentials: a viewer is refused them too. */
  'x-required-role'?: string;
}
interface OpenApiDoc {
  openapi: string;
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, unknown>; securitySchemes: Record<string, unknown> };
  security: unknown[];
}

interface Answer {
  statusCode: number;
  headers: Record<string, unknown>;
  body: string;
}

let f: HttpFixture;
let doc: OpenApiDoc;
let base: string;

beforeAll(async () => {
  f = await buildHttpFixture({ profiles: { p: { kernel: 'k', initrds: ['i'], cmdline: '' } }, boot: { defaultProfile: 'p' } });
  const r = await f.app.inject({ method: 'GET', url: '/api/v1/openapi.json', headers: f.auth('viewer') });
  expect(r.statusCode).toBe(200);
  doc = r.json() as OpenApiDoc;
  // Streams never end, so they are called over a real socket and closed once the head arrives.
  await f.app.listen({ host: '127.0.0.1', port: 0 });
  base = `http://127.0.0.1:${(f.app.server.address() as { port: number }).port}`;
});
afterAll(async () => {
  await f.cleanup();
});

function operations(): Array<{ path: string; method: string; op: Operation }> {
  return Object.entries(doc.paths).flatMap(([path, ops]) => Object.entries(ops).map(([method, op]) => ({ path, method: method.toUpperCase(), op })));
}

let n = 0;
/** A request for an operation with every path parameter filled by a fresh machine's id. */
async function call(path: string, method: string, op: Operation, headers: Record<string, string>): Promise<Answer> {
  let url = path;
  if (path.includes('{id}')) {
    n += 1;
    const m = await f.addMachine({ name: `walk-${n}`, macs: [`52:54:00:aa:${(n >> 8).toString(16).padStart(2, '0')}:${(n & 255).toString(16).padStart(2, '0')}`] });
    url = path.replace('{id}', m.id);
  }
  expect(url, `${method} ${path}: unfilled path parameter`).not.toMatch(/[{}]/);
  if (op.responses['200']?.content?.['text/event-stream'] !== undefined) {
    expect(method, `${path}: a stream is read with GET`).toBe('GET');
    const c = await openSse(`${base}${url}`, headers);
    const answer = { statusCode: c.status, headers: c.headers, body: c.status === 200 ? '' : await c.body() };
    c.close();
    return answer;
  }
  const type = op.requestBody ? Object.keys(op.requestBody.content)[0]! : undefined;
  return f.app.inject({ method: method as 'GET', url, headers: { ...headers, ...(type ? { 'content-type': type } : {}) }, ...(type ? { payload: type.includes('json') ? '{}' : '' } : {}) });
}

function checkAnswer(r: Answer, where: string, op: Operation): void {
  expect(Object.keys(op.responses), `${where}: answered ${r.statusCode}, which the document does not list`).toContain(String(r.statusCode));
  if (r.statusCode >= 400) {
    expect(r.headers['content-type'], where).toMatch(/^application\/problem\+json/);
    const body = JSON.parse(r.body) as unknown;
    expect(Value.Check(ProblemSchema, body), `${where}: ${r.body}`).toBe(true);
    expect((body as { status: number }).status, where).toBe(r.statusCode);
  }
}

describe('OpenAPI document', () => {
  it('is OpenAPI 3 with bearer security, shared schemas, and no boot paths', () => {
    expect(doc.openapi).toMatch(/^3\./);
    expect(doc.components.securitySchemes.apiToken).toMatchObject({ type: 'http', scheme: 'bearer' });
    expect(doc.security).toEqual([{ apiToken: [] }]);
    expect(Object.keys(doc.components.schemas)).toEqual(expect.arrayContaining(['Machine', 'TimelineEvent', 'Problem']));
    expect(Object.keys(doc.paths).filter((p) => p.startsWith('/boot'))).toEqual([]);
    for (const p of ['/api/v1/machines', '/api/v1/machines/import', '/api/v1/machines/{id}', '/api/v1/machines/{id}/provision', '/api/v1/machines/{id}/events', '/api/v1/openapi.json', '/api/v1/events/stream', '/metrics', '/api/v1/clusters', '/api/v1/clusters/{id}', '/api/v1/clusters/{id}/events', '/api/v1/clusters/{id}/packs']) {
      expect(doc.paths, p).toHaveProperty([p]);
    }
    expect(doc.paths['/api/v1/clusters/{id}/packs']!.post!.requestBody!.content).toHaveProperty(['application/json']);
    expect(Object.keys(doc.paths['/api/v1/clusters/{id}/packs']!.post!.responses)).toEqual(expect.arrayContaining(['200', '404', '409', '422', '502']));
  });

  it('describes a success response and its problem answers for every operation, and bodies for writes', () => {
    for (const { path, method, op } of operations()) {
      const codes = Object.keys(op.responses);
      expect(codes.some((c) => /^2/.test(c)), `${method} ${path}`).toBe(true);
      if (op.security?.length === 0) continue;
      expect(codes, `${method} ${path}`).toEqual(expect.arrayContaining(['401', '429']));
      expect(op.responses['401']!.content, `${method} ${path}`).toHaveProperty(['application/problem+json']);
      if (method !== 'GET' || op['x-required-role'] === 'admin') expect(codes, `${method} ${path}`).toContain('403');
    }
    expect(doc.paths['/api/v1/machines']!.post!.requestBody!.content).toHaveProperty(['application/json']);
    expect(Object.keys(doc.paths['/api/v1/machines/import']!.post!.requestBody!.content)).toEqual(['text/csv', 'application/yaml']);
    expect(doc.paths['/api/v1/machines/{id}']!.patch!.requestBody!.content).toHaveProperty(['application/json']);
    const list = doc.paths['/api/v1/machines']!.get!;
    expect(list.parameters!.filter((p) => p.in === 'query').map((p) => p.name)).toEqual(expect.arrayContaining(['state', 'tag', 'rack', 'bmcVendor', 'limit', 'offset']));
  });
});

describe('authorization on every route, walked from the OpenAPI document', () => {
  it('only GET /healthz is open', () => {
    expect(operations().filter((o) => o.op.security?.length === 0).map((o) => `${o.method} ${o.path}`)).toEqual(['GET /healthz']);
    expect(operations().length).toBeGreaterThanOrEqual(9);
  });

  it('no token: 401 problem+json on every gated operation', async () => {
    for (const { path, method, op } of operations()) {
      if (op.security?.length === 0) continue;
      const r = await call(path, method, op, {});
      expect(r.statusCode, `${method} ${path}`).toBe(401);
      checkAnswer(r, `${method} ${path} without a token`, op);
    }
  });

  it('viewer: reads pass the gate but those marked admin-only, every write is 403 (but signing the dashboard in and out)', async () => {
    const adminReads = operations().filter((o) => o.method === 'GET' && o.op['x-required-role'] === 'admin').map((o) => o.path);
    expect(adminReads).toEqual(['/api/v1/clusters/{id}/kubeconfig']);
    for (const { path, method, op } of operations()) {
      const r = await call(path, method, op, f.auth('viewer'));
      const where = `${method} ${path} as viewer`;
      if ((method === 'GET' || method === 'HEAD' || VIEWER_WRITABLE_PATHS.has(path)) && op['x-required-role'] !== 'admin') expect([401, 403], where).not.toContain(r.statusCode);
      else expect(r.statusCode, where).toBe(403);
      checkAnswer(r, where, op);
    }
  });

  it('admin: passes the gate on every operation', async () => {
    for (const { path, method, op } of operations()) {
      const r = await call(path, method, op, f.auth('admin'));
      const where = `${method} ${path} as admin`;
      expect([401, 403], `${where}: ${r.body}`).not.toContain(r.statusCode);
      checkAnswer(r, where, op);
    }
  });
});
