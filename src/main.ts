#!/usr/bin/env node
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { type Config, ConfigError, loadConfig, secretsOf } from './config';
import { createLogger } from './http/logging';
import { type KitSandbox, startKitSandbox } from './sandbox';
import { Service } from './service';

// Start-up: read and validate the environment once, start the built-in Kit sandbox when no Kit credentials
// are configured (so a new user can curl the server at once), check Kit, then listen.

async function withSandboxIfNeeded(
  config: Config,
): Promise<{ config: Config; sandbox?: KitSandbox; devToken?: string }> {
  if (config.kit.credentials) {
    if (config.scim.bearerTokens.length === 0 && !config.scim.jwt) {
      throw new ConfigError([
        'SCIM_BEARER_TOKENS or SCIM_JWT_JWKS_URL: with real Kit credentials at least one way for the IdP to authenticate must be configured',
      ]);
    }
    return { config };
  }
  const sandbox = await startKitSandbox({ port: config.sandboxPort ?? 0 });
  const devToken = config.scim.bearerTokens.length === 0 ? `dev-${randomBytes(24).toString('base64url')}` : undefined;
  return {
    sandbox,
    devToken,
    config: {
      ...config,
      kit: {
        ...config.kit,
        baseUrl: sandbox.url,
        credentials:
          config.kit.apiVersion === 'v3'
            ? { kind: 'v3Secret', apiSecret: sandbox.apiSecret }
            : { kind: 'apiKey', apiKey: sandbox.apiKey },
      },
      scim: {
        ...config.scim,
        bearerTokens: devToken ? [{ name: 'dev', token: devToken, readOnly: false }] : config.scim.bearerTokens,
      },
    },
  };
}

async function main(): Promise<void> {
  let config: Config;
  try {
    config = loadConfig(process.env);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  const { config: effective, sandbox, devToken } = await withSandboxIfNeeded(config);
  const logger = createLogger({ ...config.log, knownSecrets: secretsOf(effective) });
  if (sandbox) {
    // Deliberately plain lines, first on the console: this is what a new user needs to start curling.
    const base = `http://localhost:${config.port === 0 ? '<port of the "listening" line>' : config.port}/scim/v2`;
    process.stdout.write(
      [
        '',
        '  convertkit-scim is running against the BUILT-IN KIT SANDBOX (no Kit credentials are set).',
        '  Nothing reaches the real Kit; data lives in memory and is gone on restart.',
        `  Kit sandbox: ${sandbox.url}`,
        `  SCIM base URL: ${base}`,
        devToken ? `  Bearer token for this run: ${devToken}` : '  Bearer tokens: from SCIM_BEARER_TOKENS',
        devToken ? `  Try: curl -H "Authorization: Bearer ${devToken}" ${base}/Users` : '',
        '',
      ].join('\n'),
    );
  }
  const service = new Service({ config: effective, logger });

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
      await sandbox?.close();
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

  // Check Kit before listening, but never let an unreachable Kit keep the server from starting: it then
  // listens not-ready and the checks keep retrying in the background.
  await Promise.race([
    service.bootstrap(),
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
    throw err;
  }
  logger.info({ port, sandbox: Boolean(sandbox), redis: Boolean(effective.redisUrl) }, 'listening');
}

function runDoctor(): void {
  // Output is flushed before exiting: a piped `--json` report must not be cut short.
  void import('./doctor/cli')
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
  void import('./scim/mapping/validateCli').then(({ validateCli }) => {
    const code = validateCli(process.argv.slice(3), {
      env: process.env,
      stdout: (text) => process.stdout.write(text),
      stderr: (text) => process.stderr.write(text),
    });
    process.stdout.write('', () => process.exit(code));
  });
}

// `convertkit-scim doctor …` (issue #19) checks a configuration before go-live instead of starting the server;
// `convertkit-scim validate [file]` (issue #16) checks an attribute mapping file.
if (process.argv[2] === 'doctor') runDoctor();
else if (process.argv[2] === 'validate') runValidate();
else
  main().catch((err) => {
    process.stderr.write(`convertkit-scim failed to start: ${(err as Error).message}\n`);
    process.exit(1);
  });
