#!/usr/bin/env node
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { ConfigError, loadConfigFile } from '../config/load.js';
import { startService } from '../service.js';
import { addArtifact, listArtifacts } from './artifacts-command.js';
import { provisionMachine } from './provision-command.js';
import { createToken, listTokens, revokeToken } from './tokens-command.js';

const USAGE = `usage: rackboot <command> [options]

commands:
  serve [--config FILE]            run DHCP, TFTP and HTTP in one process (embedded defaults without a config)
  config validate [--config FILE]  check a config file and print the resolved settings
  artifacts add PATH|URL [--name NAME] [--sha256 HEX] [--config FILE]
                                   ingest an appliance ISO (URLs download with resume)
  artifacts list [--config FILE]   list ingested artifacts
  provision NAME|ID [--server URL] [--config FILE]
                                   install a machine again (server: default http://127.0.0.1:<http.port>)
  tokens create --name NAME --role admin|viewer [--config FILE]
                                   create an API token; prints its secret once, on stdout
  tokens list [--config FILE]      list API tokens (never their secrets)
  tokens revoke NAME [--config FILE]
                                   revoke an API token

API commands send the token in RACKBOOT_TOKEN, else the one in <dataDir>/admin.token.

exit codes: 0 ok, 1 runtime failure, 2 usage or config error, 3 refused in the machine's current state`;

async function main(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: { config: { type: 'string', short: 'c' }, help: { type: 'boolean', short: 'h' }, name: { type: 'string' }, role: { type: 'string' }, sha256: { type: 'string' }, server: { type: 'string' } },
    });
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n${USAGE}\n`);
    return 2;
  }
  const { positionals, values } = parsed;
  if (values.help || positionals.length === 0) {
    process.stdout.write(`${USAGE}\n`);
    return values.help ? 0 : 2;
  }
  const [cmd, sub, arg] = positionals;
  try {
    if (cmd === 'serve') return await serve(values.config);
    if (cmd === 'artifacts' && sub === 'add' && arg !== undefined) {
      return await addArtifact(await loadConfigFile(values.config), { source: arg, ...(values.name ? { name: values.name } : {}), ...(values.sha256 ? { sha256: values.sha256 } : {}) }, process.stdout, process.stderr);
    }
    if (cmd === 'provision' && sub !== undefined) return await provisionMachine(await loadConfigFile(values.config), sub, values.server, process.stdout, process.stderr);
    if (cmd === 'tokens' && sub === 'create') return await createToken(await loadConfigFile(values.config), values.name, values.role, process.stdout, process.stderr);
    if (cmd === 'tokens' && sub === 'list') return await listTokens(await loadConfigFile(values.config), process.stdout);
    if (cmd === 'tokens' && sub === 'revoke' && arg !== undefined) return await revokeToken(await loadConfigFile(values.config), arg, process.stdout, process.stderr);
    if (cmd === 'artifacts' && sub === 'list') return await listArtifacts(await loadConfigFile(values.config), process.stdout);
    if (cmd === 'config' && sub === 'validate') {
      const cfg = await loadConfigFile(values.config);
      // Password hashes stay out of terminals and CI logs.
      process.stdout.write(`${JSON.stringify(cfg, (k, v: unknown) => (k === 'passwordHash' ? '(redacted)' : v), 2)}\n`);
      return 0;
    }
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`${e.message}\n`);
      return 2;
    }
    throw e;
  }
  process.stderr.write(`unknown command: ${positionals.join(' ')}\n${USAGE}\n`);
  return 2;
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

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`rackboot: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exit(1);
  },
);
