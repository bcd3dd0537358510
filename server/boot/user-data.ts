import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse as parseYaml, stringify } from 'yaml';
import type { ProfileConfig } from '../config/schema.js';
import type { Machine } from '../inventory/machine.js';
import { prefixToMask } from '../net/ipv4.js';
import type { BootUrls } from './boot-urls.js';
import { Template } from './template.js';

export const USER_DATA_PLACEHOLDERS = ['installDevice', 'hostname', 'users', 'siteNetwork', 'ntpServers'] as const;

/** Install stages rackboot is told about, in order; each maps to a Kairos stage that calls back. */
export const CALLBACK_STAGES = {
  'install-start': 'kairos-install.pre',
  'install-done': 'after-install',
  'first-boot': 'network',
} as const;
export type CallbackStage = keyof typeof CALLBACK_STAGES;

export type UserDataResult = { ok: true; text: string } | { ok: false; reason: string };

export async function loadUserDataTemplate(dir: string, name: string): Promise<Template> {
  const path = join(dir, 'user-data', `${name}.yaml`);
  const t = new Template(name, await readFile(path, 'utf8'));
  const unknown = [...t.placeholders].filter((p) => !(USER_DATA_PLACEHOLDERS as readonly string[]).includes(p));
  if (unknown.length > 0) throw new Error(`${path}: unknown placeholders ${unknown.join(', ')}; allowed: ${USER_DATA_PLACEHOLDERS.join(', ')}`);
  return t;
}

/** Reads an operator's extra user-data; it must be a YAML mapping. */
export async function loadExtraUserData(path: string): Promise<Record<string, unknown>> {
  const doc: unknown = parseYaml(await readFile(path, 'utf8'));
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) throw new Error(`${path}: extra user-data must be a YAML mapping`);
  return doc as Record<string, unknown>;
}

/**
 * The machine's Kairos + stylus cloud-config: install device from its inventory disks, users, site
 * network from its static settings, and stage hooks that report each install step back with its token.
 */
export function renderUserData(
  m: Machine,
  profile: ProfileConfig,
  template: Template,
  extra: Record<string, unknown> | null,
  urls: BootUrls,
): UserDataResult {
  const explicit = getPath(extra, ['install', 'device']);
  const device = typeof explicit === 'string' ? { ok: true as const, device: explicit } : installDevice(m);
  if (!device.ok) return device;
  const ud = profile.userData;
  const rendered = template.render({
    installDevice: JSON.stringify(device.device),
    hostname: JSON.stringify(m.network?.hostname ?? m.name),
    users: JSON.stringify(
      ud.users.map((u) => ({
        name: u.name,
        ...(u.passwordHash !== undefined ? { passwd: u.passwordHash } : {}),
        groups: u.groups,
        ssh_authorized_keys: u.sshKeys,
      })),
    ),
    siteNetwork: JSON.stringify(siteNetwork(m, profile)),
    ntpServers: JSON.stringify(ud.ntpServers),
  });
  let doc: Record<string, unknown>;
  try {
    doc = parseYaml(rendered) as Record<string, unknown>;
  } catch (e) {
    return { ok: false, reason: `template ${template.name} does not render to valid YAML: ${(e as Error).message.split('\n')[0]}` };
  }
  const merged = extra === null ? doc : deepMerge(doc, extra);
  merged.stages = withCallbacks(merged.stages, m, urls);
  return { ok: true, text: `#cloud-config\n${stringify(merged, { lineWidth: 0 })}` };
}

/** Never `auto` on a machine with more than one disk: Kairos would pick the largest, often the data disk. */
export function installDevice(m: Machine): { ok: true; device: string } | { ok: false; reason: string } {
  const os = m.disks.find((d) => d.role === 'os');
  if (os !== undefined) return { ok: true, device: os.path };
  if (m.disks.length === 1) return { ok: true, device: m.disks[0]!.path };
  if (m.disks.length === 0) return { ok: false, reason: 'no disks in the inventory: add the OS disk (role os), or set install.device in the profile user-data' };
  return { ok: false, reason: `${m.disks.length} disks and none has role os: mark the OS disk; rackboot will not install to "auto"` };
}

function siteNetwork(m: Machine, profile: ProfileConfig): Record<string, unknown> {
  const net = m.network;
  const out: Record<string, unknown> = {};
  if (net?.ip !== undefined && net.prefix !== undefined) {
    out.interfaces = {
      [net.interface ?? 'eth0']: {
        type: 'static',
        ipAddress: net.ip,
        mask: prefixToMask(net.prefix),
        ...(net.gateway !== undefined ? { gateway: net.gateway } : {}),
        ...(net.dns !== undefined ? { nameserver: net.dns[0] } : {}),
        ...(net.vlan !== undefined ? { vlanId: net.vlan } : {}),
        ...(net.mtu !== undefined ? { mtu: net.mtu } : {}),
      },
    };
  } else if (net?.vlan !== undefined || net?.mtu !== undefined) {
    out.interfaces = { [net.interface ?? 'eth0']: { type: 'dhcp', ...(net.vlan !== undefined ? { vlanId: net.vlan } : {}), ...(net.mtu !== undefined ? { mtu: net.mtu } : {}) } };
  }
  if (net?.dns !== undefined && net.dns.length > 0) out.nameserver = net.dns[0];
  const proxy = profile.userData.proxy;
  if (proxy?.http !== undefined) out.httpProxy = proxy.http;
  if (proxy?.https !== undefined) out.httpsProxy = proxy.https;
  if (proxy?.noProxy !== undefined) out.noProxy = proxy.noProxy;
  return out;
}

/** Appends rackboot's callback hooks to whatever stages the template and operator defined. */
function withCallbacks(stages: unknown, m: Machine, urls: BootUrls): Record<string, unknown> {
  const out: Record<string, unknown> = stages !== null && typeof stages === 'object' && !Array.isArray(stages) ? { ...(stages as Record<string, unknown>) } : {};
  for (const [step, stage] of Object.entries(CALLBACK_STAGES) as [CallbackStage, string][]) {
    const url = urls.callback(m, step);
    const existing = Array.isArray(out[stage]) ? (out[stage] as unknown[]) : [];
    out[stage] = [
      ...existing,
      {
        name: `rackboot ${step}`,
        // curl where the image has it, busybox wget otherwise; failure must not break the install.
        commands: [`curl -fsS -X POST --retry 10 --retry-connrefused --retry-delay 3 '${url}' || wget -q -O /dev/null --post-data='' '${url}' || true`],
      },
    ];
  }
  return out;
}

function deepMerge(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const b = out[k];
    out[k] = isMap(b) && isMap(v) ? deepMerge(b, v) : v;
  }
  return out;
}

function isMap(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function getPath(obj: Record<string, unknown> | null, path: string[]): unknown {
  let cur: unknown = obj;
  for (const p of path) cur = isMap(cur) ? cur[p] : undefined;
  return cur;
}
