import { readFile } from 'node:fs/promises';
import type { ApiTarget } from './api-client.js';
import { apiCall, apiOrFail, CliFailure, describeProblem, listAll } from './api-call.js';

// `rackboot bmc add|provision|list`, through the API. The BMC password is read from a file or the
// environment, never from the command line (where `ps` would show it).

export interface BmcAddArgs {
  address: string;
  username: string;
  passwordFile?: string;
  caFile?: string;
  fingerprint?: string;
  tofu?: boolean;
  systemId?: string;
  name?: string;
  profile?: string;
  rack?: string;
}

export interface BmcProvisionArgs {
  targets: string[];
  method: string;
  tag?: string;
  rack?: string;
  state?: string;
}

type Out = Pick<NodeJS.WriteStream, 'write'>;

export async function bmcAdd(t: ApiTarget, a: BmcAddArgs, env: NodeJS.ProcessEnv, out: Out): Promise<number> {
  const trusts = [a.caFile !== undefined, a.fingerprint !== undefined, a.tofu === true].filter(Boolean).length;
  if (trusts !== 1) throw new CliFailure('give exactly one of --ca-file FILE, --fingerprint SHA256 or --tofu', 2);
  let password: string;
  if (a.passwordFile !== undefined) password = (await readFile(a.passwordFile, 'utf8')).replace(/\r?\n$/, '');
  else if (env['RACKBOOT_BMC_PASSWORD'] !== undefined) password = env['RACKBOOT_BMC_PASSWORD'];
  else throw new CliFailure('give the BMC password with --password-file FILE or the RACKBOOT_BMC_PASSWORD environment variable', 2);
  const tls = a.caFile !== undefined ? { caBundle: await readFile(a.caFile, 'utf8') } : a.fingerprint !== undefined ? { fingerprintSha256: a.fingerprint } : { trustOnFirstUse: true };
  const body = {
    address: a.address,
    username: a.username,
    password,
    tls,
    ...(a.systemId === undefined ? {} : { systemId: a.systemId }),
    ...(a.name === undefined ? {} : { name: a.name }),
    ...(a.profile === undefined ? {} : { profile: a.profile }),
    ...(a.rack === undefined ? {} : { rack: a.rack }),
  };
  type Registered = { created: boolean; machine: { name: string; id: string; macs: string[] }; bmc: { vendor: { id: string; product?: string }; systemId: string; trust: { mode: string; fingerprintSha256?: string } } };
  const v = await apiOrFail<Registered>(t, 'POST', '/api/v1/bmcs', { json: body });
  const trust = v.bmc.trust.fingerprintSha256 === undefined ? v.bmc.trust.mode : `${v.bmc.trust.mode} ${v.bmc.trust.fingerprintSha256}`;
  out.write(`${v.machine.name} (${v.machine.id}) ${v.created ? 'created' : 'filled in'}: ${v.machine.macs.length} MAC(s), ${v.bmc.vendor.product ?? v.bmc.vendor.id}, system ${v.bmc.systemId}, TLS ${trust}\n`);
  return 0;
}

/** Exit 0 when at least one machine was queued, 3 when every one was refused. */
export async function bmcProvision(t: ApiTarget, a: BmcProvisionArgs, out: Out, err: Out): Promise<number> {
  const selector = { ...(a.tag === undefined ? {} : { tag: a.tag }), ...(a.rack === undefined ? {} : { rack: a.rack }), ...(a.state === undefined ? {} : { state: a.state }) };
  const hasSelector = Object.keys(selector).length > 0;
  if (hasSelector === a.targets.length > 0) throw new CliFailure('name machines (NAME|ID ...) or select them with --tag, --rack or --state, not both', 2);
  const body = hasSelector ? { method: a.method, selector } : { method: a.method, machines: a.targets };
  const r = await apiCall<{ accepted: { name: string; bmc: string }[]; skipped: { id: string; name?: string; reason: string }[] }>(t, 'POST', '/api/v1/bmcs/provision', { json: body });
  if (!r.ok) throw new CliFailure(describeProblem(r.status, r.problem), r.status === 409 ? 3 : 1);
  for (const x of r.body.accepted) out.write(`${x.name}: queued (${a.method} via ${x.bmc})\n`);
  for (const x of r.body.skipped) err.write(`${x.name ?? x.id}: skipped: ${x.reason}\n`);
  return r.body.accepted.length === 0 ? 3 : 0;
}

export async function bmcList(t: ApiTarget, out: Out): Promise<number> {
  const items = await listAll<{ machineId: string; address: string; systemId: string; vendor: { id: string }; trust: { mode: string } }>(t, '/api/v1/bmcs');
  for (const b of items) out.write(`${b.machineId}  ${b.address}  system ${b.systemId}  ${b.vendor.id}  TLS ${b.trust.mode}\n`);
  return 0;
}
