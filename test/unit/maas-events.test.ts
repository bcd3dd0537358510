import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkSchema, collectEvents, deployMachine, queryEvents, tailEvents, type MaasClient, type MaasResult } from '../../maas/index.js';
import { EventsPageSchema } from '../../maas/schema.js';
import { createMaasStandin, LEVEL, type MaasStandin, type StandinMachine } from '../support/maas-standin/index.js';
import { clientFor, maasFixture } from '../support/maas-standin/testkit.js';

function value<T>(r: MaasResult<T>): T {
  if (!r.ok) throw new Error(`expected ok, got ${r.error.code}: ${r.error.message}`);
  return r.value;
}

let s: MaasStandin;
let c: MaasClient;
let a: StandinMachine;
let b: StandinMachine;
beforeAll(async () => {
  s = await createMaasStandin();
  c = clientFor(s).client;
  a = s.addMachine({ hostname: 'ev-a', mac: '52:54:00:ee:00:0a' });
  b = s.addMachine({ hostname: 'ev-b' });
  // 40 INFO events on a, 3 on b, interleaved with a's DEBUG ones.
  for (let i = 0; i < 40; i++) {
    s.state.event(a, LEVEL.INFO, 'Step', `a-${i}`);
    s.state.event(a, LEVEL.DEBUG, 'Node changed status', `a-debug-${i}`);
    if (i % 15 === 0) s.state.event(b, LEVEL.INFO, 'Step', `b-${i}`);
  }
  s.state.event(a, LEVEL.ERROR, 'Marking node failed', 'boom');
});
afterAll(async () => {
  c.close();
  await s.stop();
});

describe('events?op=query', () => {
  it('returns a page newest first with next/prev cursors, as MAAS does', async () => {
    const page = value(await queryEvents(c, { id: a.system_id, limit: 5 }));
    expect(page.count).toBe(5);
    const ids = page.events.map((e) => e.id);
    expect(ids).toEqual([...ids].sort((x, y) => y - x));
    expect(page.events[0]).toMatchObject({ node: a.system_id, hostname: 'ev-a', level: 'ERROR', type: 'Marking node failed', description: 'boom' });
    expect(page.events[0]!.created).toMatch(/^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} [A-Z][a-z]{2}\. \d{4} \d{2}:\d{2}:\d{2}$/);
    expect(page.next_uri).toBe(`/MAAS/api/2.0/events/?op=query&id=${a.system_id}&limit=5&after=${ids[0]}`);
    expect(page.prev_uri).toBe(`/MAAS/api/2.0/events/?op=query&id=${a.system_id}&limit=5&before=${ids[4]}`);
    expect(s.requests[s.requests.length - 1]!.query).toEqual([
      ['op', 'query'],
      ['id', a.system_id],
      ['limit', '5'],
    ]);
  });

  it('filters by hostname, mac_address and level (a minimum; default INFO)', async () => {
    const byHost = value(await queryEvents(c, { hostname: 'ev-b', limit: 100 }));
    expect(byHost.events.map((e) => e.description)).toEqual(['b-30', 'b-15', 'b-0']);
    const byMac = value(await queryEvents(c, { mac_address: '52:54:00:EE:00:0A', limit: 1000 }));
    expect(byMac.count).toBe(41);
    const debug = value(await queryEvents(c, { id: a.system_id, level: 'DEBUG', limit: 1000 }));
    expect(debug.count).toBe(81);
    const errors = value(await queryEvents(c, { id: [a.system_id, b.system_id], level: 'ERROR' }));
    expect(errors.events.map((e) => e.type)).toEqual(['Marking node failed']);
  });

  it('maps MAAS refusals: both cursors, a limit over 1000, an unknown level', async () => {
    const both = await queryEvents(c, { after: 1, before: 5 });
    expect(both.ok ? null : both.error.code).toBe('RB_MAAS_BAD_REQUEST');
    const raw = await c.get('events/', { op: 'query', query: { after: 1, before: 5 } });
    expect(raw.ok ? null : raw.error.body).toBe('There is undetermined behaviour when both `after` and `before` are specified.');
    const big = await queryEvents(c, { limit: 1001 });
    expect(big.ok ? null : big.error.body).toBe('Requested number of events 1001 is greater than limit: 1000');
    const lvl = await queryEvents(c, { level: 'CHATTY' as 'INFO' });
    expect(lvl.ok ? null : lvl.error.body).toBe('Unrecognised log level: CHATTY');
  });

  it("validates MAAS's example page against the schema", () => {
    expect(checkSchema(EventsPageSchema, maasFixture('events-query.maas-example.json'), 'events page').ok).toBe(true);
  });
});

describe('paging with cursors', () => {
  it('walks forward with after= until exhausted, in ascending order without gaps', async () => {
    const from = s.requests.length;
    const all = value(await collectEvents(c, { id: a.system_id, level: 'DEBUG' }, { pageSize: 7 }));
    expect(all.events).toHaveLength(81);
    expect(all.truncated).toBe(false);
    const ids = all.events.map((e) => e.id);
    expect(ids).toEqual([...ids].sort((x, y) => x - y));
    expect(all.pages).toBe(12); // 11 full pages of 7 and a last one of 4
    const cursors = s.requests.slice(from).map((r) => r.query.find(([k]) => k === 'after')?.[1]);
    expect(cursors[0]).toBe('0');
    expect(Number(cursors[1])).toBe(ids[6]);
    expect(all.newestId).toBe(ids[80]);
  });

  it('walks backward with before= from the newest event', async () => {
    const from = s.requests.length;
    const back = value(await collectEvents(c, { id: a.system_id }, { direction: 'older', pageSize: 10 }));
    expect(back.events.map((e) => e.description)).toEqual([...Array.from({ length: 40 }, (_, i) => `a-${i}`), 'boom']);
    const sent = s.requests.slice(from).map((r) => r.query.find(([k]) => k === 'before')?.[1]);
    expect(sent[0]).toBeUndefined();
    expect(sent.slice(1).every((v) => v !== undefined)).toBe(true);
  });

  it('stops at maxPages and says so', async () => {
    const r = value(await collectEvents(c, { id: a.system_id }, { pageSize: 5, maxPages: 3 }));
    expect(r.events).toHaveLength(15);
    expect(r.pages).toBe(3);
    expect(r.truncated).toBe(true);
  });

  it('tails new events from a cursor as a deployment progresses', async () => {
    const m = s.addMachine({ hostname: 'ev-tail' });
    const start = value(await tailEvents(c, { id: m.system_id }, 0));
    expect(start.events).toEqual([]);
    value(await deployMachine(c, m.system_id, { distro_series: 'noble' }));
    const first = value(await tailEvents(c, { id: m.system_id }, start.lastId));
    expect(first.events.map((e) => e.type)).toEqual(['Deploying']);
    s.advance(70_000);
    const rest = value(await tailEvents(c, { id: m.system_id }, first.lastId, { pageSize: 2 }));
    expect(rest.events.map((e) => e.type)).toEqual(['Performing PXE boot', 'Loading ephemeral', 'Configuring storage', 'Installing OS', 'Configuring OS', 'Rebooting', 'Deployed']);
    const none = value(await tailEvents(c, { id: m.system_id }, rest.lastId));
    expect(none).toEqual({ events: [], lastId: rest.lastId, truncated: false });
  });
});
