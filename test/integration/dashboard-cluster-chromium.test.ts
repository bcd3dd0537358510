import { existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { issueApiToken } from '../../server/access/api-tokens.js';
import { startEnrollmentLab, type EnrollmentLab } from '../support/enrollment-harness.js';
import { REPO } from '../support/rackboot-process.js';

// The dashboard's cluster formation view in Debian's headless Chromium: a 3-node cluster formed by
// rackboot against the Local Management API stand-ins and the Kubernetes stand-in. The hosts are
// silent when the cluster is defined, so the view first shows formation waiting at host-ready; once
// they answer, the same page (no reload) follows the formation over the event stream to enrolled.
// A fourth host's single-node cluster fails, and the operator retries it from its page.

const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => existsSync(p));
if (CHROMIUM === undefined && process.env.CI) throw new Error('Debian chromium is missing in CI: run `bash scripts/install-deps.sh test`');

const ARTIFACTS = join(REPO, 'test/.artifacts');

describe.skipIf(CHROMIUM === undefined)('dashboard cluster formation view in headless Chromium', () => {
  let lab: EnrollmentLab;
  let browser: Browser;
  let page: Page;
  const pageErrors: string[] = [];

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    lab = await startEnrollmentLab({ hosts: 4, base: 56, bundleBytes: 16 * 1024 * 1024 });
    // Chromium refuses to run as root without --no-sandbox; the page is our own, on loopback.
    browser = await chromium.launch({ executablePath: CHROMIUM!, headless: true, args: process.getuid?.() === 0 ? ['--no-sandbox'] : [] });
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    page.on('pageerror', (e) => pageErrors.push(e.message));
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await lab?.close();
  });

  it('follows a 3-node formation live from host-ready to enrolled, with the upload retry and the members', async () => {
    const token = readFileSync(join(lab.dir, 'data', 'admin.token'), 'utf8').trim();
    await page.goto(`${lab.api}/ui/`);
    await page.locator('#login-token').fill(token);
    await page.locator('#login-form button[type=submit]').click();
    await page.locator('#live.on').waitFor();

    const rack = lab.rack.hosts.slice(0, 3);
    for (const h of rack) await h.stop();
    // The first upload is cut off part-way; formation uploads the whole bundle again.
    lab.rack.hosts[0]!.failNext('V1ContentUpload', { status: 0, dropAfterBytes: 4 * 1024 * 1024 });
    const names = lab.machines.slice(0, 3).map((m) => m.name);
    const created = await lab.call('POST', '/api/v1/clusters', { name: 'rack-a', controlPlane: names, vip: '192.0.2.111', contentBundle: lab.bundle });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const id = created.body.id as string;

    await page.goto(`${lab.api}/ui/#/clusters/${id}`);
    const state = page.locator('section.cluster h2 .state').first();
    const step = page.locator('.formation-step');
    await expect.poll(() => step.textContent(), { timeout: 30_000 }).toMatch(/^host-ready \(node-edge-\d\)$/);
    expect(await state.getAttribute('data-state')).toBe('forming');
    const memberStates = async () => {
      const out: string[] = [];
      for (const row of await page.locator('tr[data-member]').all()) out.push(`${await row.getAttribute('data-member')}=${await row.locator('.state').getAttribute('data-state')}`);
      return out.sort();
    };
    expect(await memberStates()).toEqual(names.map((n) => `${n}=installed`).sort());
    await page.screenshot({ path: join(ARTIFACTS, 'dashboard-cluster-waiting.png'), fullPage: true });

    // From here the page is only updated by the event stream.
    await page.evaluate('window.__samePage = true');
    const seen: string[] = [];
    const watcher = setInterval(() => {
      void step.textContent().then(
        (t) => {
          if (t !== null && seen.at(-1) !== t) seen.push(t);
        },
        () => undefined,
      );
    }, 50);
    try {
      for (const h of rack) await h.start();
      await expect.poll(() => state.getAttribute('data-state'), { timeout: 120_000 }).toBe('enrolled');
    } finally {
      clearInterval(watcher);
    }
    expect(await page.evaluate('window.__samePage')).toBe(true);
    console.log(`formation steps seen on screen: ${seen.join(' → ')}`);
    expect(seen[0]).toMatch(/^host-ready/);

    const api = (await lab.call('GET', `/api/v1/clusters/${id}`)).body as { state: string; members: Array<{ name: string; state: string }> };
    expect(api.state).toBe('enrolled');
    await expect.poll(memberStates).toEqual(names.map((n) => `${n}=enrolled`).sort());
    expect(await page.locator('section.cluster h2 .muted').textContent()).toBe('3 of 3 members enrolled');

    // The upload bar keeps the attempt that finished: the whole bundle, after the cut-off first one.
    const upload = page.locator('section.cluster .transfer');
    await expect.poll(() => upload.textContent()).toBe(' upload core-content.tar.zst 100% done');
    expect(await upload.getAttribute('title')).toContain(`of ${(statSync(lab.bundle).size / 1048576).toFixed(1)} MiB, attempt 2`);

    // The cluster's timeline on the page holds the formation from start to enrolled.
    const kinds = await page.locator('#cluster-timeline td:nth-child(2)').allTextContents();
    expect(kinds[0]).toBe('cluster.state');
    expect(kinds).toContain('cluster.enrolled');
    const shot = join(ARTIFACTS, 'dashboard-cluster-enrolled.png');
    await page.screenshot({ path: shot, fullPage: true });
    console.log(`dashboard screenshot: ${shot}`);
    expect(pageErrors).toEqual([]);
  }, 240_000);

  it('offers an admin the retry of a failed cluster, and follows the retried formation to enrolled', async () => {
    const host = lab.rack.hosts[3]!;
    const m = lab.machines[3]!;
    await host.stop();
    const created = await lab.call('POST', '/api/v1/clusters', { name: 'solo-d', controlPlane: [m.name], vip: '192.0.2.112', contentBundle: lab.bundle });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const id = created.body.id as string;
    await page.goto(`${lab.api}/ui/#/clusters/${id}`);
    const state = page.locator('section.cluster h2 .state').first();
    await expect.poll(() => page.locator('.formation-step').textContent(), { timeout: 30_000 }).toBe(`host-ready (${m.name})`);
    const retry = page.locator('button.retry-cluster');
    expect(await retry.count()).toBe(0);

    // The operator pulls the silent host; the cluster fails and the page offers the retry.
    expect((await lab.call('PATCH', `/api/v1/machines/${m.id}`, { state: 'failed' })).status).toBe(200);
    await expect.poll(() => state.getAttribute('data-state'), { timeout: 30_000 }).toBe('failed');
    await retry.waitFor();
    expect(await page.locator('button.delete-cluster').count()).toBe(1);
    await page.screenshot({ path: join(ARTIFACTS, 'dashboard-cluster-failed.png'), fullPage: true });

    // A viewer's page of the same failed cluster offers no action.
    const viewer = await issueApiToken(lab.svc.store.apiTokens, 'dash-viewer', 'viewer');
    const context = await browser.newContext();
    try {
      const other = await context.newPage();
      await other.goto(`${lab.api}/ui/#/clusters/${id}`);
      await other.locator('#login-token').fill(viewer.secret);
      await other.locator('#login-form button[type=submit]').click();
      await expect.poll(() => other.locator('section.cluster h2 .state').first().getAttribute('data-state'), { timeout: 30_000 }).toBe('failed');
      expect(await other.locator('#who').textContent()).toBe('dash-viewer (viewer)');
      expect(await other.locator('.actions button').count()).toBe(0);
    } finally {
      await context.close();
    }

    await host.start();
    await retry.click();
    await expect.poll(() => state.getAttribute('data-state'), { timeout: 120_000 }).toBe('enrolled');
    expect(await retry.count()).toBe(0);
    const kinds = await page.locator('#cluster-timeline td:nth-child(2)').allTextContents();
    expect(kinds.indexOf('cluster.retry')).toBeGreaterThan(kinds.indexOf('cluster.failed'));
    expect((await lab.call('GET', `/api/v1/clusters/${id}`)).body.state).toBe('enrolled');
    expect(await page.locator(`tr[data-member="${m.name}"] .state`).getAttribute('data-state')).toBe('enrolled');
    await page.screenshot({ path: join(ARTIFACTS, 'dashboard-cluster-retried.png'), fullPage: true });
    expect(pageErrors).toEqual([]);
  }, 240_000);
});
