#!/usr/bin/env node
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { pino } from 'pino';
import { ConfigError, loadConfigFile } from '../config/load.js';
import { MACHINE_STATES, type MachineState } from '../lifecycle/states.js';
import { startService } from '../service.js';
import { apiTarget, type ApiTarget } from './api-client.js';
import { CliFailure } from './api-call.js';
import { addArtifact, listArtifacts } from './artifacts-command.js';
import { bmcAdd, bmcList, bmcProvision } from './bmc-command.js';
import { changeCluster, clusterKubeconfig, listClusters, showCluster } from './clusters-command.js';
import { pushPacks, type PushPacksOptions } from './push-packs-command.js';
import { machineEvents } from './events-command.js';
import { labDown } from '../lab/lab-down.js';
import { LabError, labUp } from '../lab/lab-up.js';
import { addMachine, deleteMachine, importMachines, listMachines, showMachine } from './machines-command.js';
import type { OutputFormat } from './output.js';
import { maasRelease, maasSync, maasUploadImage } from './maas-command.js';
import { provisionMachine } from './provision-command.js';
import { createToken, listTokens, revokeToken } from './tokens-command.js';
import { watchMachines } from './watch-command.js';

const EXIT_CODES = `
Exit codes:
  0    success
  1    failure: the server refused the request or could not be reached, a watched machine failed
  2    usage error: unknown command or option, missing or bad argument, invalid config file
  3    refused in the machine's current state (provision while an install runs)
  130  interrupted (Ctrl-C) while following events

API commands reach --server (default http://127.0.0.1:<http.port> of --config) with the token from
--token, else $RACKBOOT_TOKEN, else <dataDir>/admin.token.`;

interface ApiOpts {
  server?: string;
  token?: string;
  config?: string;
}
interface OutOpts {
  output: OutputFormat;
}

function withApi(c: Command): Command {
  return c
    .option('-s, --server <url>', 'rackboot base URL (default http://127.0.0.1:<http.port>)')
    .option('-t, --token <token>', 'API token (default $RACKBOOT_TOKEN, else <dataDir>/admin.token)')
    .option('-c, --config <file>', 'rackboot.yaml, for the default port and data directory');
}

function withOutput(c: Command): Command {
  return c.addOption(new Option('-o, --output <format>', 'table for people, json or yaml for scripts').choices(['table', 'json', 'yaml']).default('table'));
}

async function target(o: ApiOpts): Promise<ApiTarget> {
  return apiTarget(await loadConfigFile(o.config), o.server, o.token);
}

/** Ctrl-C ends a followed stream cleanly; the command then exits 130. */
function interruptible(): { signal: AbortSignal; interrupted: () => boolean } {
  const ac = new AbortController();
  process.once('SIGINT', () => ac.abort());
  return { signal: ac.signal, interrupted: () => ac.signal.aborted };
}

function buildProgram(setCode: (code: number) => void): Command {
  const program = new Command('rackboot')
    .description('Bare-metal provisioning: DHCP, TFTP and HTTP boot, inventory, lifecycle.')
    .addHelpText('after', EXIT_CODES)
    .exitOverride()
    .showSuggestionAfterError();
  const act =
    <A extends unknown[]>(fn: (...args: A) => Promise<number>) =>
    async (...args: A) =>
      setCode(await fn(...args));

  program
    .command('serve')
    .description('run DHCP, TFTP and HTTP in one process (embedded defaults without a config)')
    .option('-c, --config <file>', 'rackboot.yaml')
    .action(act((o: { config?: string }) => serve(o.config)));

  const config = program.command('config').description('configuration files');
  config
    .command('validate')
    .description('check a config file and print the resolved settings')
    .option('-c, --config <file>', 'rackboot.yaml')
    .action(
      act(async (o: { config?: string }) => {
        const cfg = await loadConfigFile(o.config);
        // Password hashes and the MAAS API key stay out of terminals and CI logs.
        process.stdout.write(`${JSON.stringify(cfg, (k, v: unknown) => (k === 'passwordHash' || k === 'apiKey' ? '(redacted)' : v), 2)}\n`);
        return 0;
      }),
    );

  const artifacts = program.command('artifacts').description('appliance ISOs in the local store');
  artifacts
    .command('add')
    .description('ingest an appliance ISO (URLs download with resume)')
    .argument('<source>', 'ISO path or http(s) URL')
    .option('--name <name>', 'artifact name (default from the ISO)')
    .option('--sha256 <hex>', 'expected SHA-256 of the ISO')
    .option('-c, --config <file>', 'rackboot.yaml')
    .action(
      act(async (source: string, o: { name?: string; sha256?: string; config?: string }) =>
        addArtifact(await loadConfigFile(o.config), { source, ...(o.name ? { name: o.name } : {}), ...(o.sha256 ? { sha256: o.sha256 } : {}) }, process.stdout, process.stderr),
      ),
    );
  artifacts
    .command('list')
    .description('list ingested artifacts')
    .option('-c, --config <file>', 'rackboot.yaml')
    .action(act(async (o: { config?: string }) => listArtifacts(await loadConfigFile(o.config), process.stdout)));

  const machines = program.command('machines').description('the inventory, through the API');
  withOutput(withApi(machines.command('list').description('list machines')))
    .addOption(new Option('--state <state>', 'only machines in this state').choices(MACHINE_STATES))
    .option('--rack <rack>', 'only machines in this rack')
    .option('--tag <tag>', 'only machines with this tag')
    .option('--cluster <cluster>', 'only members of this cluster (id or name)')
    .action(
      act(async (o: ApiOpts & OutOpts & { state?: string; rack?: string; tag?: string; cluster?: string }) =>
        listMachines(await target(o), { state: o.state, rack: o.rack, tag: o.tag, cluster: o.cluster }, o.output, process.stdout),
      ),
    );
  withOutput(withApi(machines.command('show').description('one machine in full').argument('<machine>', 'name or id'))).action(
    act(async (m: string, o: ApiOpts & OutOpts) => showMachine(await target(o), m, o.output, process.stdout)),
  );
  withOutput(
    withApi(
      machines
        .command('add')
        .description('register one machine')
        .argument('<name>', 'machine name')
        .requiredOption('--mac <mac>', 'a MAC address of the machine (repeat for more)', collect)
        .option('--rack <rack>', 'rack')
        .option('--role <role>', 'role, e.g. control-plane or worker')
        .option('--profile <profile>', 'boot profile')
        .option('--tag <tag>', 'a tag (repeat for more)', collect, [])
        .option('--bmc <address>', 'BMC address')
        .option('--bmc-vendor <vendor>', 'BMC vendor')
        .addOption(new Option('--firmware <firmware>', 'firmware').choices(['bios', 'uefi']))
        .addOption(new Option('--arch <arch>', 'architecture').choices(['x86_64', 'arm64'])),
    ),
  ).action(act(async (name: string, o: ApiOpts & OutOpts & Parameters<typeof addMachine>[2]) => addMachine(await target(o), name, o, o.output, process.stdout)));
  withOutput(
    withApi(
      machines
        .command('import')
        .description('import an inventory file (CSV or YAML), all or nothing')
        .argument('<file>', 'inventory file')
        .addOption(new Option('--format <format>', 'file format (default from the extension)').choices(['csv', 'yaml'])),
    ),
  ).action(act(async (file: string, o: ApiOpts & OutOpts & { format?: string }) => importMachines(await target(o), file, o.format, o.output, process.stdout)));
  withApi(machines.command('delete').description('remove a machine from the inventory').argument('<machine>', 'name or id')).action(
    act(async (m: string, o: ApiOpts) => deleteMachine(await target(o), m, process.stdout)),
  );

  withOutput(
    withApi(
      program
        .command('events')
        .description("a machine's boot timeline: DHCP, TFTP, HTTP, callbacks, BMC and MAAS calls, lifecycle")
        .argument('<machine>', 'name or id')
        .option('--after <id>', 'only events after this event id', positiveInt, 0)
        .option('-f, --follow', 'keep printing new events as they happen', false),
    ),
  ).action(
    act(async (m: string, o: ApiOpts & OutOpts & { after: number; follow: boolean }) => {
      const { signal, interrupted } = interruptible();
      const code = await machineEvents(await target(o), m, { after: o.after, follow: o.follow }, o.output, process.stdout, signal);
      return interrupted() ? 130 : code;
    }),
  );

  withApi(
    program
      .command('watch')
      .description('live progress of machines (all, or the named ones) until Ctrl-C or --until')
      .argument('[machines...]', 'names or ids')
      .addOption(new Option('--until <state>', 'exit 0 once every watched machine reached this state, 1 if one fails').choices(MACHINE_STATES))
      .addOption(new Option('-o, --output <format>', 'table for people (redrawn on a terminal, a line per change otherwise), json: one stream message per line').choices(['table', 'json']).default('table')),
  ).action(
    act(async (names: string[], o: ApiOpts & { until?: MachineState; output: 'table' | 'json' }) => {
      const { signal, interrupted } = interruptible();
      const code = await watchMachines(await target(o), { names, output: o.output, ...(o.until !== undefined ? { until: o.until } : {}) }, process.stdout, signal);
      return interrupted() ? 130 : code;
    }),
  );

  withApi(
    program
      .command('provision')
      .description('install a machine again')
      .argument('<machine>', 'name or id')
      .addOption(new Option('--via <via>', "maas: deploy through MAAS; netboot: rackboot's own network boot (default: the machine's MAAS mode)").choices(['maas', 'netboot']))
      .option('--image <name>', 'uploaded MAAS image to deploy (default maas.image)'),
  ).action(
    act(async (m: string, o: ApiOpts & { via?: 'maas' | 'netboot'; image?: string }) =>
      provisionMachine(await target(o), m, process.stdout, process.stderr, { ...(o.via !== undefined ? { via: o.via } : {}), ...(o.image !== undefined ? { image: o.image } : {}) }),
    ),
  );
  withApi(program.command('release').description('MAAS teardown: stop following, unlock and release the machine in MAAS').argument('<machine>', 'name or id')).action(
    act(async (m: string, o: ApiOpts) => maasRelease(await target(o), m, process.stdout)),
  );

  const maas = program.command('maas').description('MAAS integration, through the API');
  withApi(maas.command('sync').description('import and refresh machines from MAAS')).action(act(async (o: ApiOpts) => maasSync(await target(o), process.stdout)));
  withApi(
    maas
      .command('upload-image')
      .description('upload a ddgz appliance disk image (a path on the rackboot host) to MAAS and record it as an artifact')
      .argument('<path>', 'the image, e.g. kairos-palette-4.6.raw.gz')
      .requiredOption('--name <name>', 'artifact and MAAS image name (custom/<name>), with the version in it'),
  ).action(act(async (path: string, o: ApiOpts & { name: string }) => maasUploadImage(await target(o), path, o.name, process.stdout)));

  const bmc = program.command('bmc').description('machines registered and provisioned through their BMCs (Redfish)');
  withApi(
    bmc
      .command('add')
      .description('register a machine by its BMC; the password comes from --password-file or $RACKBOOT_BMC_PASSWORD, never the command line')
      .argument('<address>', 'BMC host, host:port or https:// URL')
      .requiredOption('--username <user>', 'BMC account')
      .option('--password-file <file>', 'file holding the BMC password')
      .option('--ca-file <file>', 'trust: PEM CA bundle that signs the BMC certificate')
      .option('--fingerprint <sha256>', 'trust: pin the BMC certificate by its SHA-256 fingerprint')
      .option('--tofu', 'trust: record and pin the certificate seen now (trust on first use)')
      .option('--system-id <id>', 'Redfish System, when the BMC manages several')
      .option('--name <name>', 'machine name (default srv-<serial>)')
      .option('--profile <name>', 'boot profile')
      .option('--rack <rack>', 'rack'),
  ).action(
    act(async (address: string, o: ApiOpts & { username: string; passwordFile?: string; caFile?: string; fingerprint?: string; tofu?: boolean; systemId?: string; name?: string; profile?: string; rack?: string }) => {
      const { server: _s, token: _t, config: _c, ...rest } = o;
      return bmcAdd(await target(o), { address, ...rest }, process.env, process.stdout);
    }),
  );
  withApi(
    bmc
      .command('provision')
      .description('provision machines through their BMCs: named ones, or those a selector matches')
      .argument('[machines...]', 'names or ids')
      .addOption(new Option('--method <method>', 'boot path').choices(['pxe', 'virtual-media']).default('pxe'))
      .option('--tag <tag>', 'select machines with this tag')
      .option('--rack <rack>', 'select machines in this rack')
      .addOption(new Option('--state <state>', 'select machines in this state').choices(MACHINE_STATES)),
  ).action(
    act(async (names: string[], o: ApiOpts & { method: string; tag?: string; rack?: string; state?: string }) =>
      bmcProvision(
        await target(o),
        { targets: names, method: o.method, ...(o.tag === undefined ? {} : { tag: o.tag }), ...(o.rack === undefined ? {} : { rack: o.rack }), ...(o.state === undefined ? {} : { state: o.state }) },
        process.stdout,
        process.stderr,
      ),
    ),
  );
  withApi(bmc.command('list').description('registered BMCs (never their passwords)')).action(act(async (o: ApiOpts) => bmcList(await target(o), process.stdout)));

  const tokens = program.command('tokens').description('API tokens, managed on the rackboot host through its data directory');
  tokens
    .command('create')
    .description('create an API token; prints its secret once, on stdout')
    .requiredOption('--name <name>', 'token name')
    .requiredOption('--role <role>', 'admin or viewer')
    .option('-c, --config <file>', 'rackboot.yaml')
    .action(act(async (o: { name: string; role: string; config?: string }) => createToken(await loadConfigFile(o.config), o.name, o.role, process.stdout, process.stderr)));
  tokens
    .command('list')
    .description('list API tokens (never their secrets)')
    .option('-c, --config <file>', 'rackboot.yaml')
    .action(act(async (o: { config?: string }) => listTokens(await loadConfigFile(o.config), process.stdout)));
  tokens
    .command('revoke')
    .description('revoke an API token')
    .argument('<name>', 'token name')
    .option('-c, --config <file>', 'rackboot.yaml')
    .action(act(async (name: string, o: { config?: string }) => revokeToken(await loadConfigFile(o.config), name, process.stdout, process.stderr)));

  const lab = program.command('lab').description('a whole rack on this host (root): QEMU VMs behind virtual BMCs, provisioned by rackboot in a private network namespace');
  lab
    .command('up')
    .description('create the lab, provision every machine through its BMC and wait until all are installed')
    .option('-m, --machines <n>', 'number of VMs', positiveInt, 3)
    .option('-d, --dir <dir>', 'lab directory: state (lab.json), rackboot data, logs, VM disks', DEFAULT_LAB_DIR)
    .option('--namespace <name>', 'network namespace to create', 'rackboot-lab')
    .option('--subnet <n>', 'the lab uses 10.250.<n>.0/24', positiveInt, 10)
    .option('--api-port <port>', 'host loopback port forwarded to rackboot in the namespace', positiveInt, 18080)
    .option('--cache-dir <dir>', 'cache of the test appliance build', DEFAULT_LAB_CACHE)
    .option('--memory <mb>', 'memory per VM in MB', positiveInt, 384)
    .option('--timeout <seconds>', 'give up waiting for installed after this long', positiveInt, 1200)
    .action(
      act(async (o: { machines: number; dir: string; namespace: string; subnet: number; apiPort: number; cacheDir: string; memory: number; timeout: number }) => {
        if (o.machines < 1 || o.machines > 32) throw new CliFailure('--machines must be 1 to 32', 2);
        if (o.subnet > 255) throw new CliFailure('--subnet must be 0 to 255', 2);
        if (!/^[A-Za-z0-9_.-]{1,15}$/.test(o.namespace)) throw new CliFailure('--namespace: letters, digits, _ . - (at most 15)', 2);
        return labUp({ machines: o.machines, dir: o.dir, namespace: o.namespace, subnet: o.subnet, apiPort: o.apiPort, cacheDir: o.cacheDir, memoryMb: o.memory, timeoutSeconds: o.timeout }, process.stdout);
      }),
    );
  lab
    .command('down')
    .description('stop exactly the processes and delete exactly the namespace that lab up recorded')
    .option('-d, --dir <dir>', 'lab directory', DEFAULT_LAB_DIR)
    .action(act(async (o: { dir: string }) => labDown(o.dir, process.stdout)));

  const clusters = program.command('clusters').description('clusters being formed and formed');
  withOutput(withApi(clusters.command('list', { isDefault: true }).description('every cluster with its state, formation step and members').option('--state <state>', 'only clusters in this state (forming, enrolled, failed)'))).action(
    act(async (o: ApiOpts & OutOpts & { state?: string }) => listClusters(await target(o), o.state, o.output, process.stdout)),
  );
  withOutput(withApi(clusters.command('show').description('one cluster: members and formation timeline').argument('<cluster>', 'name or id'))).action(
    act(async (c: string, o: ApiOpts & OutOpts) => showCluster(await target(o), c, o.output, process.stdout)),
  );
  withOutput(withApi(clusters.command('retry').description('form a failed cluster again once its cause is mended (done steps are not repeated)').argument('<cluster>', 'name or id'))).action(
    act(async (c: string, o: ApiOpts & OutOpts) => changeCluster(await target(o), 'retry', c, o.output, process.stdout)),
  );
  withOutput(withApi(clusters.command('delete').description('forget a failed cluster (its installed members are free again) or an enrolled one (it keeps running, unwatched)').argument('<cluster>', 'name or id'))).action(
    act(async (c: string, o: ApiOpts & OutOpts) => changeCluster(await target(o), 'delete', c, o.output, process.stdout)),
  );
  withApi(
    clusters
      .command('kubeconfig')
      .description("the cluster's kubeconfig, once it has been Running and Healthy (admin token; the read is audited)")
      .argument('<cluster>', 'name or id')
      .option('-f, --file <file>', 'write it to this file (mode 0600) instead of standard output'),
  ).action(act(async (c: string, o: ApiOpts & { file?: string }) => clusterKubeconfig(await target(o), c, o.file, process.stdout)));
  withOutput(
    withApi(
      clusters
        .command('push-packs')
        .description("push an OCI image-layout archive (a path on the rackboot host) to the cluster's Zot or --registry")
        .argument('<cluster>', 'name or id')
        .argument('<archive>', 'OCI image-layout tar on the rackboot host')
        .option('--registry <url>', 'registry base URL (default https://<VIP>:30003, the cluster\'s Zot)')
        .option('--repository <name>', 'repository the manifests go to', 'packs')
        .option('--credentials-file <file>', 'file with username:password on its first line (read by rackboot)')
        .option('--ca-file <file>', 'CA bundle the registry certificate must chain to')
        .option('--pin <sha256>', 'SHA-256 fingerprint the registry certificate must have')
        .option('--tofu', 'trust the first certificate seen and record it (the default for the cluster\'s Zot)')
        .option('--insecure', 'do not verify the registry certificate at all'),
    ),
  ).action(
    act(async (cluster: string, archive: string, o: ApiOpts & OutOpts & PushPacksOptions) => pushPacks(await target(o), cluster, archive, o, o.output, process.stdout)),
  );
  return program;
}

const DEFAULT_LAB_DIR = '/var/tmp/rackboot-lab';
const DEFAULT_LAB_CACHE = '/var/tmp/rackboot-lab-cache';

function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

function positiveInt(value: string): number {
  if (!/^\d+$/.test(value)) throw new InvalidArgumentError('not a whole number');
  return Number(value);
}

async function serve(configPath: string | undefined): Promise<number> {
  const cfg = await loadConfigFile(configPath);
  const log = pino({ level: cfg.log.level, base: { service: 'rackboot' } });
  const svc = await startService(cfg, log);
  if (svc.http === null && svc.tftp === null && svc.dhcp === null) {
    log.fatal('no listener could start; see the errors above');
    await svc.stop();
    return 1;
  }
  log.info({ config: configPath ?? '(embedded defaults)', dataDir: cfg.dataDir }, 'rackboot is serving');
  await new Promise<void>((resolve) => {
    const done = () => resolve();
    process.once('SIGINT', done);
    process.once('SIGTERM', done);
  });
  log.info('shutting down');
  await svc.stop();
  return 0;
}

async function main(argv: string[]): Promise<number> {
  let code = 0;
  const program = buildProgram((c) => (code = c));
  try {
    await program.parseAsync(argv, { from: 'user' });
    return code;
  } catch (e) {
    if (e instanceof CommanderError) {
      // Help asked for is success; help shown for a missing command, and every parse error, are usage errors.
      return e.code === 'commander.helpDisplayed' || e.code === 'commander.version' ? 0 : 2;
    }
    if (e instanceof ConfigError) {
      process.stderr.write(`${e.message}\n`);
      return 2;
    }
    if (e instanceof LabError) {
      process.stderr.write(`rackboot lab: ${e.message}\n`);
      return e.exitCode;
    }
    if (e instanceof CliFailure) {
      process.stderr.write(`rackboot: ${e.message}\n`);
      return e.exitCode;
    }
    throw e;
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`rackboot: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exit(1);
  },
);
