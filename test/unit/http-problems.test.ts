import type { LightMyRequestResponse } from 'fastify';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { buildHttpFixture, type HttpFixture } from '../support/http-fixture.js';

// Every API error is RFC 9457 problem+json whose `code` and `type` follow the status.

let f: HttpFixture;
beforeEach(async () => {
  f = await buildHttpFixture();
});
afterEach(async () => {
  await f.cleanup();
});

function problem(r: LightMyRequestResponse, status: number, code: string): { detail?: string; issues?: Array<{ field: string; message: string }> } {
  expect(r.statusCode, r.body).toBe(status);
  expect(r.headers['content-type']).toBe('application/problem+json; charset=utf-8');
  const p = r.json() as Record<string, unknown>;
  expect(p).toMatchObject({ status, code, type: `https://rackboot.dev/problems/${code.slice(3).toLowerCase().replace(/_/g, '-')}` });
  expect(typeof p.title).toBe('string');
  return p;
}

const json = (method: 'POST' | 'PATCH', url: string, payload: string, headers: Record<string, string> = f.auth()) => f.app.inject({ method, url, payload, headers: { 'content-type': 'application/json', ...headers } });

describe('problem+json', () => {
  it('401 and 403 from the gate', async () => {
    problem(await f.app.inject({ url: '/api/v1/machines' }), 401, 'RB_UNAUTHORIZED');
    problem(await json('POST', '/api/v1/machines', '{}', f.auth('viewer')), 403, 'RB_FORBIDDEN');
  });

  it('400 for bad query and path parameters, naming each field', async () => {
    const q = problem(await f.app.inject({ url: '/api/v1/machines?limit=0&offset=-1', headers: f.auth() }), 400, 'RB_BAD_REQUEST');
    expect(q.issues?.map((i) => i.field)).toEqual(expect.arrayContaining(['querystring.limit']));
    const u = problem(await f.app.inject({ url: '/api/v1/machines?colour=red', headers: f.auth() }), 400, 'RB_BAD_REQUEST');
    expect(u.issues?.map((i) => i.field)).toEqual(['querystring.colour']);
    const s = problem(await f.app.inject({ url: '/api/v1/machines?state=sleeping', headers: f.auth() }), 400, 'RB_BAD_REQUEST');
    expect(s.issues?.[0]?.field).toBe('querystring.state');
    const p = problem(await f.app.inject({ url: '/api/v1/machines/not-an-id', headers: f.auth() }), 400, 'RB_BAD_REQUEST');
    expect(p.issues?.[0]?.field).toBe('params.id');
  });

  it('400 for malformed JSON, 413 for an oversized body, 415 for an unknown content type', async () => {
    problem(await json('POST', '/api/v1/machines', '{"name":'), 400, 'RB_BAD_REQUEST');
    problem(await json('POST', '/api/v1/machines', JSON.stringify({ name: 'x', macs: ['52:54:00:00:00:01'], serial: 'x'.repeat(1_100_000) })), 413, 'RB_TOO_LARGE');
    problem(await f.app.inject({ method: 'POST', url: '/api/v1/machines', payload: '<m/>', headers: { ...f.auth(), 'content-type': 'application/xml' } }), 415, 'RB_UNSUPPORTED_MEDIA_TYPE');
    expect((await f.store.machines.list()).total).toBe(0);
  });

  it('404 for unknown routes and unknown machines, 409 for conflicts, 422 for invalid records', async () => {
    problem(await f.app.inject({ url: '/api/v1/nothing', headers: f.auth() }), 404, 'RB_NOT_FOUND');
    problem(await f.app.inject({ url: '/api/v1/machines/00000000-0000-4000-8000-000000000000', headers: f.auth() }), 404, 'RB_NOT_FOUND');
    expect((await json('POST', '/api/v1/machines', JSON.stringify({ name: 'a', macs: ['52:54:00:00:00:01'] }))).statusCode).toBe(201);
    problem(await json('POST', '/api/v1/machines', JSON.stringify({ name: 'a', macs: ['52:54:00:00:00:02'] })), 409, 'RB_CONFLICT');
    const inv = problem(await json('POST', '/api/v1/machines', JSON.stringify({ name: 'b', macs: ['nope'] })), 422, 'RB_INVALID');
    expect(inv.issues).toEqual([{ field: 'macs.0', message: "not a MAC address: 'nope'" }]);
  });

  it('500 without internals when the store fails, and the server keeps answering', async () => {
    await f.store.close();
    const p = problem(await f.app.inject({ url: '/api/v1/machines', headers: f.auth() }), 500, 'RB_INTERNAL');
    expect(p.detail).toBe('see the server log');
    expect((await f.app.inject({ url: '/healthz' })).statusCode).toBe(200);
  });
});
