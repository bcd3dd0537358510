import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { get as httpGet, type IncomingMessage } from 'node:http';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clusterEvents, closedLoopbackPort, defineFormingCluster } from '../support/forming-cluster.js';
import { NETBOOT_PROFILE, REPO, runCli, startRackbootProcess, type RackbootProcess } from '../support/rackboot-process.js';

// The dashboard in Debian's headless Chromium, driven by playwright-core: sign in with a viewer token,
// watch a machine install through rackboot's real boot and callback paths, and see each state change
// arrive on screen over the event stream. Screenshots are kept under test/.artifacts/.

const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => existsSync(p));
if (CHROMIUM === undefined && process.env.CI) throw new Error('Debian chromium is missing in CI: run `bash scripts/install-deps.sh test`');

const ARTIFACTS = join(REPO, 'test/.artifacts');
const XSS_RACK = '<img src=x onerror="window.__xss=1">';
const XSS_VENDOR = '</td><script>window.__xss=2</script>';

interface MachineJson {
  id: string;
  name: string;
  tokenGeneration: number;
}

describe.skipIf(CHROMIUM === undefined)('dashboard in headless Chromium', () => {
  let rb: RackbootProcess;
  let browser: Browser;
  let page: Page;
  let viewerToken: string;
  const machines = new Map<string, MachineJson>();
  const pageErrors: string[] = [];

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    rb = await startRackbootProcess({ boot: { defaultProfile: 'appliance' }, profiles: { appliance: NETBOOT_PROFILE }, enrollment: { localApiPort: await closedLoopbackPort(), pollMs: 200 } });
    const inventory = [
      { name: 'cp-1', macs: ['02:00:00:00:20:01'], rack: 'r1', role: 'control-plane', bmc: { address: '192.0.2.21', vendor: 'Dell' } },
      { name: 'cp-2', macs: ['02:00:00:00:20:02'], rack: 'r1', role: 'control-plane' },
      { name: 'evil-1', macs: ['02:00:00:00:20:03'], rack: XSS_RACK, bmc: { address: '192.0.2.23', vendor: XSS_VENDOR } },
    ];
    for (const m of inventory) {
      const r = await rb.api<MachineJson>('POST', '/api/v1/machines', m);
      expect(r.status, JSON.stringify(r.body)).toBe(201);
      machines.set(m.name, r.body);
    }
    const created = await runCli(['tokens', 'create', '--name', 'dash', '--role', 'viewer', '--config', rb.configFile]);
    expect(created.code, created.stderr).toBe(0);
    viewerToken = created.stdout.trim();
    // Chromium refuses to run as root without --no-sandbox; the page is our own, on loopback.
    browser = await chromium.launch({ executablePath: CHROMIUM!, headless: true, args: process.getuid?.() === 0 ? ['--no-sandbox'] : [] });
    page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    page.on('pageerror', (e) => pageErrors.push(e.message));
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await rb?.stop();
  });

  it('signs in with a pasted token, keeping only an HttpOnly SameSite=Strict session cookie', async () => {
    await page.goto(`${rb.baseUrl}/ui/`);
    await page.locator('#login-token').fill(viewerToken);
    await page.locator('#login-form button[type=submit]').click();
    await page.locator('tr[data-machine="cp-1"]').waitFor();
    await expect.poll(() => page.locator('#who').textContent()).toBe('dash (viewer)');
    const cookies = await page.context().cookies();
    expect(cookies.map((c) => [c.name, c.httpOnly, c.sameSite, c.path])).toEqual([['rackboot_session', true, 'Strict', '/api/v1/']]);
    expect(cookies[0]!.value).not.toContain(viewerToken);
    expect(await page.evaluate('document.cookie')).toBe('');
    expect(await page.evaluate('JSON.stringify(localStorage) + JSON.stringify(sessionStorage)')).not.toContain('rbt_');
  }, 60_000);

  it('renders machine data as text, never as markup', async () => {
    const evilRow = page.locator('tr[data-machine="evil-1"]');
    await evilRow.waitFor();
    await expect.poll(() => page.locator(`tr.group[data-group="${XSS_RACK.replace(/"/g, '\\"')}"]`).textContent()).toContain(`rack ${XSS_RACK}`);
    expect(await evilRow.locator('td').nth(6).textContent()).toBe(`192.0.2.23 (${XSS_VENDOR})`);
    expect(await page.locator('#fleet img, #fleet script').count()).toBe(0);
    expect(await page.evaluate('window.__xss')).toBeUndefined();
  }, 30_000);

  it('shows a machine install live: each state change reaches the fleet table over the event stream', async () => {
    const state = (name: string) => page.locator(`tr[data-machine="${name}"] .state`);
    await expect.poll(() => state('cp-1').textContent()).toBe('ready');
    await page.locator('#live.on').waitFor();
    const cp1 = machines.get('cp-1')!;
    // The machine's own requests, as its installer makes them.
    expect((await fetch(rb.bootUrl(cp1, '/script.ipxe'))).status).toBe(200);
    await page.locator('tr[data-machine="cp-1"] .state[data-state="booting-installer"]').waitFor();
    expect((await fetch(rb.bootUrl(cp1, '/callback/install-start'), { method: 'POST' })).status).toBe(200);
    await page.locator('tr[data-machine="cp-1"] .state[data-state="installing"]').waitFor();
    const shot = join(ARTIFACTS, 'dashboard-fleet-installing.png');
    await page.screenshot({ path: shot, fullPage: true });
    console.log(`dashboard screenshot: ${shot}`);
    expect((await fetch(rb.bootUrl(cp1, '/callback/install-done'), { method: 'POST' })).status).toBe(200);
    await page.locator('tr[data-machine="cp-1"] .state[data-state="installed"]').waitFor();
    // The other machines did not move.
    expect(await state('cp-2').textContent()).toBe('ready');
  }, 60_000);

  it("shows a machine's boot timeline and appends new events live", async () => {
    await page.locator('tr[data-machine="cp-1"] a').click();
    await page.locator('#timeline').waitFor();
    const steps = await page.locator('#timeline tbody tr td:nth-child(3)').allTextContents();
    expect(steps).toEqual(['lifecycle.transition', 'script.served', 'lifecycle.transition', 'lifecycle.transition']);
    expect(await page.locator('#steps li.current').textContent()).toBe('installed');
    const cp1 = machines.get('cp-1')!;
    expect((await fetch(rb.bootUrl(cp1, '/callback/first-boot'), { method: 'POST' })).status).toBe(200);
    await page.locator('#timeline td', { hasText: 'lifecycle.first-boot' }).waitFor();
    expect(await page.locator('#timeline td.message').last().textContent()).toBe('the installed system booted from disk for the first time');
    const shot = join(ARTIFACTS, 'dashboard-machine-timeline.png');
    await page.screenshot({ path: shot, fullPage: true });
    console.log(`dashboard screenshot: ${shot}`);
  }, 60_000);

  it("shows a machine's download live in the fleet table: its bar while running, 100% done at the end", async () => {
    await page.goto(`${rb.baseUrl}/ui/`);
    await page.locator('#live.on').waitFor();
    mkdirSync(join(rb.dataDir, 'artifacts'), { recursive: true });
    writeFileSync(join(rb.dataDir, 'artifacts', 'big.bin'), Buffer.alloc(48 * 1024 * 1024, 7));
    const res = await new Promise<IncomingMessage>((ok, fail) => httpGet(rb.bootUrl(machines.get('cp-2')!, '/files/big.bin'), ok).on('error', fail));
    const timers: NodeJS.Timeout[] = [];
    try {
      expect(res.statusCode).toBe(200);
      // A slow reader: 4 MiB at a time with pauses, so the download lasts a few seconds.
      const got = new Promise<number>((ok, fail) => {
        let n = 0;
        let mark = 0;
        res.on('data', (d: Buffer) => {
          n += d.length;
          if (n - mark < 4 * 1024 * 1024) return;
          mark = n;
          res.pause();
          timers.push(setTimeout(() => res.resume(), 200));
        });
        res.once('end', () => ok(n));
        res.once('error', fail);
      });
      const transfer = page.locator('tr[data-machine="cp-2"] .transfer');
      await page.locator('tr[data-machine="cp-2"] .transfer[data-status="running"]').waitFor();
      expect(await transfer.textContent()).toMatch(/^ big\.bin \d+%$/);
      expect(await got).toBe(48 * 1024 * 1024);
      await page.locator('tr[data-machine="cp-2"] .transfer[data-status="done"]').waitFor();
      expect(await transfer.textContent()).toBe(' big.bin 100% done');
      const shot = join(ARTIFACTS, 'dashboard-fleet-download.png');
      await page.screenshot({ path: shot, fullPage: true });
      console.log(`dashboard screenshot: ${shot}`);
    } finally {
      for (const t of timers) clearTimeout(t);
      res.destroy();
    }
  }, 60_000);

  it('shows a cluster defined through the API: its state, formation step, members and timeline', async () => {
    await page.goto(`${rb.baseUrl}/ui/#/clusters`);
    await expect.poll(() => page.locator('#clusters-empty').textContent()).toContain('No clusters yet');
    const cluster = await defineFormingCluster(rb, 'edge-b', [
      { name: 'edge-b-1', mac: '02:00:00:00:20:11', ip: '127.0.0.81' },
      { name: 'edge-b-2', mac: '02:00:00:00:20:12', ip: '127.0.0.82' },
    ]);
    const events = await clusterEvents(rb, cluster.id);
    // The list page picks the new cluster up from the event stream or on the next visit.
    await page.goto(`${rb.baseUrl}/ui/#/`);
    await page.goto(`${rb.baseUrl}/ui/#/clusters`);
    const card = page.locator('section.cluster[data-cluster="edge-b"]');
    await card.waitFor();
    expect(await card.locator('tr[data-member] td:first-child').allTextContents()).toEqual(['edge-b-1', 'edge-b-2']);
    expect(await card.locator('tr[data-member] td:nth-child(2)').allTextContents()).toEqual(['control-plane', 'worker']);
    await card.locator('h2 a').click();
    await page.locator('#cluster-timeline').waitFor();
    const api = (await rb.api<{ state: string; steps: Array<{ step: string }> }>('GET', `/api/v1/clusters/${cluster.id}`)).body;
    await expect.poll(() => page.locator('section.cluster h2 .state').first().getAttribute('data-state')).toBe(api.state);
    const step = (await page.locator('.formation-step').textContent()) ?? '';
    expect(['starting', ...api.steps.map((x) => x.step)]).toContain(step.split(' ')[0]!.replace(/,$/, ''));
    const memberStates = async () => (await rb.api<{ members: Array<{ name: string; state: string }> }>('GET', `/api/v1/clusters/${cluster.id}`)).body.members.map((m) => `${m.name}=${m.state}`);
    const shownStates = async () => {
      const out: string[] = [];
      for (const row of await page.locator('tr[data-member]').all()) out.push(`${await row.getAttribute('data-member')}=${await row.locator('.state').getAttribute('data-state')}`);
      return out;
    };
    await expect.poll(async () => JSON.stringify(await shownStates()) === JSON.stringify(await memberStates())).toBe(true);
    const messages = await page.locator('#cluster-timeline td.message').allTextContents();
    expect(messages).toContain(events[0]!.message);
    expect(await page.locator('#cluster-timeline td:nth-child(2)').first().textContent()).toBe(events[0]!.kind);
    // In the fleet, the members group under their cluster.
    await page.goto(`${rb.baseUrl}/ui/#/`);
    await page.locator('#group-by').selectOption('cluster');
    await expect.poll(() => page.locator('tr.group[data-group="edge-b"]').textContent()).toBe('cluster edge-b · 2');
    const shot = join(ARTIFACTS, 'dashboard-cluster.png');
    await page.goto(`${rb.baseUrl}/ui/#/clusters/${cluster.id}`);
    await page.locator('#cluster-timeline').waitFor();
    await page.screenshot({ path: shot, fullPage: true });
    console.log(`dashboard screenshot: ${shot}`);
  }, 90_000);

  it('signs out: the session cookie stops working', async () => {
    const cookie = (await page.context().cookies())[0]!;
    await page.goto(`${rb.baseUrl}/ui/`);
    await page.locator('#logout').click();
    await page.locator('#login[open]').waitFor();
    const r = await fetch(`${rb.baseUrl}/api/v1/machines`, { headers: { cookie: `${cookie.name}=${cookie.value}` } });
    expect(r.status).toBe(401);
    expect(pageErrors).toEqual([]);
  }, 30_000);
});
