#!/usr/bin/env node
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { type Config, ConfigError, loadConfig, secretsOf } from '../config/environment';
import { environmentFileProblems } from '../config/writtenFiles';
import { createLogger, rememberLogSecrets } from '../platform/logging';
import { BuiltInSandbox, type SandboxedTenants } from './builtInSandbox';
import { Service } from './service';
import type { TenantsConfig } from '../config/tenants/model';
import { loadTenants, readTenantsFile, secretsOfTenants } from '../config/tenants/tenantsFile';

// Start-up: read and validate the environment once, start the built-in Kit sandbox when no Kit credentials
// are configured and nothing says "deployment" (config.ts), so a new user can curl the server at once; check
// Kit, listen, and only then print the sandbox's banner. SIGHUP reloads the tenants file.

/** With real Kit credentials the IdP needs a way in; the sandbox makes one up (builtInSandbox.ts). */
function checkInboundCredentials(tenants: TenantsConfig): void {
  const env = tenants.tenants.find((t) => !t.sandbox && t.config.kit.credentials);
  if (tenants.source.kind === 'environment' && env && env.config.scim.bearerTokens.length === 0 && !env.config.scim.jwt)
    throw new ConfigError([
      'SCIM_BEARER_TOKENS or SCIM_JWT_JWKS_URL: with real Kit credentials at least one way for the IdP to authenticate must be configured',
    ]);
}

/**
 * Deliberately plain lines on the console: what a new user needs to start curling. Never a log line, and only
 * once the port listens (`port` is the bound one): a token for a server that never came up would mislead.
 */
function sandboxBanner(
  config: Config,
  port: number,
  sandbox: BuiltInSandbox,
  tenants: TenantsConfig,
  devTokens: ReadonlyMap<string, string>,
) {
  const why = config.sandboxMode === 'on' ? 'KIT_SANDBOX=on' : 'no Kit credentials are set';
  const lines = [
    '',
    `  convertkit-scim is running against the BUILT-IN KIT SANDBOX (${why}).`,
    '  Nothing reaches the real Kit; data lives in memory and is gone on restart.',
    `  Kit sandbox: ${sandbox.url}`,
  ];
  for (const tenant of tenants.tenants) {
    if (!tenant.sandbox) continue;
    const path = tenants.source.kind === 'environment' ? '/scim/v2' : `/tenants/${tenant.id}/scim/v2`;
    const base = `http://localhost:${port}${path}`;
    const token = devTokens.get(tenant.id);
    if (tenants.source.kind === 'file') lines.push(`  Tenant ${tenant.id}:`);
    lines.push(`  SCIM base URL: ${base}`);
    lines.push(token ? `  Bearer token for this run: ${token}` : '  Bearer tokens: as configured');
    if (token) lines.push(`  Try: curl -H "Authorization: Bearer ${token}" ${base}/Users`);
  }
  lines.push('', '');
  process.stdout.write(lines.join('\n'));
}

/** The SANDBOX line of the log, whenever the built-in sandbox serves a tenant (start-up and reloads). */
function logSandbox(logger: Logger, tenants: TenantsConfig): void {
  const ids = tenants.tenants.filter((t) => t.sandbox).map((t) => t.id);
  if (ids.length === 0) return;
  logger.warn(
    { sandbox: true, tenants: ids },
    'SANDBOX: tenants run on the built-in in-memory Kit sandbox; nothing reaches Kit, and what they provision is gone on restart',
  );
}

/**
 * A port that cannot be bound, as one line naming the variable that chose it; undefined for any other error.
 * The process exits with it: a stack trace would bury the one thing to change.
 */
function unboundPort(err: unknown, variable: string, port: number): string | undefined {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'EADDRINUSE')
    return `convertkit-scim cannot listen: port ${port} is already in use; set ${variable} to a free port (or stop what holds ${port})`;
  if (code === 'EACCES')
    return `convertkit-scim cannot listen: port ${port} needs privileges this process lacks; set ${variable} to a port above 1023`;
  return undefined;
}

/** Reads the configuration, or exits 2 naming what is wrong (never a value). */
function configuration(): { config: Config; tenants: TenantsConfig } {
  try {
    const config = loadConfig(process.env);
    const tenants = loadTenants(config, process.env);
    // A tenants file's tenants had theirs checked where the file sets them (with its line).
    const files = environmentFileProblems(tenants.source.kind === 'environment' ? tenants.tenants[0].config : config);
    if (files.length > 0) throw new ConfigError(files);
    checkInboundCredentials(tenants);
    return { config, tenants };
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
}

/** What the process runs with; a SIGHUP reload replaces `tenants`. */
interface Running {
  config: Config;
  sandbox: BuiltInSandbox;
  service: Service;
  logger: Logger;
  source: TenantsConfig['source'];
  tenants: TenantsConfig;
  /** Bearer tokens made up for sandbox tenants of `tenants`: printed once the port listens. */
  devTokens: ReadonlyMap<string, string>;
  /** The bound port, once listening: the banner waits for it. */
  port?: number;
}

async function main(): Promise<void> {
  const { config, tenants: configured } = configuration();
  const sandbox = new BuiltInSandbox(config.sandboxPort);
  let provided: SandboxedTenants;
  try {
    provided = await sandbox.provide(configured);
  } catch (err) {
    exitUnbound(unboundPort(err, 'KIT_SANDBOX_PORT', config.sandboxPort ?? 0));
    throw err;
  }
  const { tenants, devTokens } = provided;
  // The environment's one tenant is also the process configuration (what Service's single-tenant view shows).
  const effective = tenants.source.kind === 'environment' ? tenants.tenants[0].config : config;
  const logger = createLogger({ ...config.log, knownSecrets: [...secretsOf(effective), ...secretsOfTenants(tenants)] });
  logSandbox(logger, tenants);
  const service = new Service({ config: effective, logger, tenants });
  const running: Running = { config, sandbox, service, logger, source: configured.source, tenants, devTokens };

  // Handlers first: a SIGTERM during the start-up checks must shut down cleanly too, not kill the process.
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    // The last resort: Service.close() keeps within shutdownTimeoutMs less a second, cutting what is left.
    const deadline = setTimeout(() => {
      logger.error('shutdown took too long; exiting');
      process.exit(1);
    }, effective.shutdownTimeoutMs);
    deadline.unref();
    let code = 0;
    try {
      await service.close();
      await sandbox.close();
      logger.info('shut down');
    } catch (err) {
      code = 1;
      logger.error({ err: { name: (err as Error).name, message: (err as Error).message } }, 'shutdown failed');
    } finally {
      logger.flush();
      process.exit(code);
    }
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGHUP', () => {
    if (!stopping) void reloadTenants(running);
  });

  // Check Kit before listening, but never let an unreachable Kit keep the server from starting: it then
  // listens not-ready and the checks keep retrying in the background.
  await Promise.race([
    service.bootstrap().catch(() => undefined),
    new Promise((resolve) => setTimeout(resolve, effective.startup.listenAfterMs).unref()),
  ]);
  if (stopping) return;
  let port: number;
  try {
    const server = await service.listen(effective.port, effective.host);
    // The bound port, which differs from PORT when PORT=0.
    port = (server.address() as AddressInfo).port;
  } catch (err) {
    if (stopping) return;
    logger.flush();
    exitUnbound(unboundPort(err, 'PORT', effective.port));
    throw err;
  }
  running.port = port;
  if (sandbox.url) sandboxBanner(config, port, sandbox, running.tenants, running.devTokens);
  logger.info(
    {
      port,
      sandbox: Boolean(sandbox.url),
      redis: Boolean(effective.redisTopology),
      tenants: running.tenants.tenants.length,
    },
    'listening',
  );
}

/** Exits 2 with the line of a port that cannot be bound; returns for any other error. */
function exitUnbound(line: string | undefined): void {
  if (line === undefined) return;
  process.stderr.write(`${line}\n`);
  process.exit(2);
}

/**
 * SIGHUP: the tenants file is read again and applied without dropping in-flight requests. A file
 * with any problem is refused whole, the running tenants kept, and the log line names every problem.
 */
async function reloadTenants(running: Running): Promise<void> {
  const { config, sandbox, service, logger, source } = running;
  if (source.kind !== 'file') {
    logger.warn('SIGHUP ignored: there is no TENANTS_FILE to reload (the environment is read once)');
    return;
  }
  try {
    const read = readTenantsFile(source.path, config, process.env);
    const { tenants, devTokens } = await sandbox.provide(read);
    rememberLogSecrets(logger, secretsOfTenants(tenants));
    const outcome = await service.reload(tenants);
    running.tenants = tenants;
    running.devTokens = devTokens;
    // Before the port listens the start-up banner prints these tokens; after, this one does.
    if (devTokens.size > 0 && running.port !== undefined)
      sandboxBanner(config, running.port, sandbox, tenants, devTokens);
    logSandbox(logger, tenants);
    logger.info({ file: source.path, ...outcome }, 'tenants file reloaded');
  } catch (err) {
    const problems = err instanceof ConfigError ? err.problems : [(err as Error).message];
    logger.error({ file: source.path, problems }, 'tenants file refused; the running tenants are kept');
  }
}

function runDoctor(): void {
  // Output is flushed before exiting: a piped `--json` report must not be cut short.
  void import('./doctorCommand')
    .then(({ doctorCli }) =>
      doctorCli(process.argv.slice(3), {
        env: process.env,
        stdout: (text) => process.stdout.write(text),
        stderr: (text) => process.stderr.write(text),
        columns: process.stdout.isTTY ? process.stdout.columns : undefined,
      }),
    )
    .then(
      (code) => process.stdout.write('', () => process.exit(code)),
      (err) => {
        process.stderr.write(`convertkit-scim doctor failed: ${(err as Error).message}\n`);
        process.exit(1);
      },
    );
}

function runValidate(): void {
  void import('../config/mapping/validateCli').then(({ validateCli }) => {
    const code = validateCli(process.argv.slice(3), {
      env: process.env,
      stdout: (text) => process.stdout.write(text),
      stderr: (text) => process.stderr.write(text),
    });
    process.stdout.write('', () => process.exit(code));
  });
}

// `convertkit-scim doctor …` checks a configuration before go-live instead of starting the server;
// `convertkit-scim validate [file]` checks an attribute mapping file.
if (process.argv[2] === 'doctor') runDoctor();
else if (process.argv[2] === 'validate') runValidate();
else
  main().catch((err) => {
    // A setting found unusable only once used (a file that cannot be opened): one line naming it, exit 2.
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(2);
    }
    process.stderr.write(`convertkit-scim failed to start: ${(err as Error).message}\n`);
    process.exit(1);
  });
