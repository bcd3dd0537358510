import { readFile } from 'node:fs/promises';
import { networkInterfaces } from 'node:os';
import { resolve } from 'node:path';
import { Value } from '@sinclair/typebox/value';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import { ipToInt, inNetwork, parseCidr } from '../net/ipv4.js';
import { dottedPath } from '../schema/issue-path.js';
import { ConfigSchema, type Config } from './schema.js';

export interface ResolvedConfig extends Config {
  advertiseIp: string;
  publicUrl: string;
  artifactsRoot: string;
  bmcKeyFile: string;
}

export interface ConfigIssue {
  path: string;
  message: string;
}

export type ConfigResult = { ok: true; config: ResolvedConfig } | { ok: false; issues: ConfigIssue[] };

export class ConfigError extends Error {
  readonly code = 'RB_CONFIG_INVALID';
  constructor(
    readonly source: string,
    readonly issues: ConfigIssue[],
  ) {
    super(`invalid config ${source}:\n${issues.map((i) => `  ${i.path || '(root)'}: ${i.message}`).join('\n')}`);
  }
}

export async function loadConfigFile(path: string | undefined, env: { cwd: string } = { cwd: process.cwd() }): Promise<ResolvedConfig> {
  if (path === undefined) {
    const r = validateConfig({}, env.cwd);
    if (!r.ok) throw new ConfigError('(defaults)', r.issues);
    return r.config;
  }
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    throw new ConfigError(path, [{ path: '', message: `cannot read file: ${(e as Error).message}` }]);
  }
  let doc: unknown;
  try {
    doc = parseYaml(text) ?? {};
  } catch (e) {
    const where = e instanceof YAMLParseError && e.linePos ? ` (line ${e.linePos[0].line})` : '';
    throw new ConfigError(path, [{ path: '', message: `not valid YAML${where}: ${(e as Error).message.split('\n')[0]}` }]);
  }
  const r = validateConfig(doc, env.cwd);
  if (!r.ok) throw new ConfigError(path, r.issues);
  return r.config;
}

/** Validates a parsed document: schema first (with defaults), then the cross-field rules. */
export function validateConfig(doc: unknown, cwd: string): ConfigResult {
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) {
    return { ok: false, issues: [{ path: '', message: 'the config must be a YAML mapping' }] };
  }
  const value = Value.Default(ConfigSchema, structuredClone(doc));
  const issues: ConfigIssue[] = [];
  for (const err of Value.Errors(ConfigSchema, value)) {
    issues.push({ path: dottedPath(err.path), message: describe(err.message, err.schema) });
    if (issues.length >= 20) break;
  }
  if (issues.length > 0) return { ok: false, issues: dedupe(issues) };
  const cfg = value as Config;
  issues.push(...crossFieldIssues(cfg));
  if (issues.length > 0) return { ok: false, issues };

  const advertiseIp = cfg.advertiseAddress === 'auto' ? detectAddress() : cfg.advertiseAddress;
  if (advertiseIp === null) {
    return { ok: false, issues: [{ path: 'advertiseAddress', message: "'auto' found no non-loopback IPv4 address; set it explicitly" }] };
  }
  const dataDir = resolve(cwd, cfg.dataDir);
  return {
    ok: true,
    config: {
      ...cfg,
      dataDir,
      advertiseIp,
      publicUrl: cfg.http.publicUrl ?? `http://${advertiseIp}:${cfg.http.port}`,
      artifactsRoot: resolve(cwd, cfg.artifacts.root ?? resolve(dataDir, 'artifacts')),
      bmcKeyFile: resolve(cwd, cfg.bmc.keyFile ?? resolve(dataDir, 'secrets', 'bmc-credentials.key')),
      https: {
        ...cfg.https,
        ...(cfg.https.certFile !== undefined ? { certFile: resolve(cwd, cfg.https.certFile) } : {}),
        ...(cfg.https.keyFile !== undefined ? { keyFile: resolve(cwd, cfg.https.keyFile) } : {}),
      },
    },
  };
}

function crossFieldIssues(cfg: Config): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  for (const [name, p] of Object.entries(cfg.profiles)) {
    if ((p.kernel === undefined) === (p.appliance === undefined)) {
      issues.push({ path: `profiles.${name}`, message: 'set exactly one of kernel (a kernel and initrds) or appliance (an ingested appliance ISO)' });
    } else if (p.appliance === undefined && p.method !== 'netboot') {
      issues.push({ path: `profiles.${name}.method`, message: `${p.method} boots a whole ISO: set appliance` });
    }
  }
  if (cfg.boot.defaultProfile !== undefined && !(cfg.boot.defaultProfile in cfg.profiles)) {
    issues.push({ path: 'boot.defaultProfile', message: `no profile named '${cfg.boot.defaultProfile}' under profiles` });
  }
  if ((cfg.https.certFile === undefined) !== (cfg.https.keyFile === undefined)) {
    issues.push({ path: cfg.https.certFile === undefined ? 'https.certFile' : 'https.keyFile', message: 'set both https.certFile and https.keyFile, or neither (rackboot then issues a certificate from its own CA)' });
  }
  if (cfg.maas !== undefined) {
    if ((cfg.maas.apiKey === undefined) === (cfg.maas.apiKeyFile === undefined)) issues.push({ path: 'maas', message: 'set exactly one of apiKey or apiKeyFile' });
    if (cfg.maas.sync.profile !== undefined && !(cfg.maas.sync.profile in cfg.profiles)) {
      issues.push({ path: 'maas.sync.profile', message: `no profile named '${cfg.maas.sync.profile}' under profiles` });
    }
  }
  if (cfg.dhcp.mode === 'full' && cfg.dhcp.subnets.length === 0) {
    issues.push({ path: 'dhcp.subnets', message: 'full mode needs at least one subnet' });
  }
  cfg.dhcp.subnets.forEach((s, i) => {
    let net;
    try {
      net = parseCidr(s.cidr);
    } catch {
      issues.push({ path: `dhcp.subnets.${i}.cidr`, message: `not an IPv4 network: ${s.cidr}` });
      return;
    }
    if (s.gateway !== undefined && !inNetwork(ipToInt(s.gateway), net)) {
      issues.push({ path: `dhcp.subnets.${i}.gateway`, message: `${s.gateway} is outside ${s.cidr}` });
    }
    if (s.pool !== undefined) {
      const start = ipToInt(s.pool.start);
      const end = ipToInt(s.pool.end);
      if (!inNetwork(start, net) || !inNetwork(end, net)) issues.push({ path: `dhcp.subnets.${i}.pool`, message: `pool must lie inside ${s.cidr}` });
      else if (start > end) issues.push({ path: `dhcp.subnets.${i}.pool`, message: 'pool start is after pool end' });
    }
  });
  return issues;
}

function detectAddress(): string | null {
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  return null;
}

function describe(message: string, schema: { anyOf?: Array<{ const?: unknown }>; description?: string; patternProperties?: Record<string, unknown> }): string {
  if (Array.isArray(schema.anyOf) && schema.anyOf.every((s) => s.const !== undefined)) {
    return `must be one of ${schema.anyOf.map((s) => String(s.const)).join(', ')}`;
  }
  if (message.startsWith('Unexpected property')) {
    return schema.patternProperties === undefined ? 'unknown key' : `name must match ${Object.keys(schema.patternProperties).join(', ')}`;
  }
  return message.charAt(0).toLowerCase() + message.slice(1);
}

function dedupe(issues: ConfigIssue[]): ConfigIssue[] {
  const seen = new Set<string>();
  return issues.filter((i) => (seen.has(i.path) ? false : (seen.add(i.path), true)));
}
