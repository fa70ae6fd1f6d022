import pino from 'pino';
import { type KitSandbox, startKitSandbox } from '@convertkit-scim/kit-sandbox';
import { Service } from '../../src/app/service';
import { loadConfig } from '../../src/config/environment';
import { READONLY_TOKEN, TOKEN } from './harness';

// Two replicas of one server: two Services with the same configuration (one Kit credential, one Redis), as two
// processes behind a load balancer would run.

export interface Fleet {
  sandbox: KitSandbox;
  replicas: [Service, Service];
  close(): Promise<void>;
}

export async function startFleet(redisUrl: string, env: Record<string, string> = {}): Promise<Fleet> {
  const sandbox = await startKitSandbox({ rateLimit: { max: 100000, windowMs: 60000 } });
  const config = loadConfig({
    KIT_API_URL: sandbox.url,
    KIT_API_KEY: sandbox.apiKey,
    SCIM_BEARER_TOKENS: `okta=${TOKEN}`,
    SCIM_READONLY_BEARER_TOKENS: `iga=${READONLY_TOKEN}`,
    REDIS_URL: redisUrl,
    AUDIT_LOG: 'off',
    LOG_LEVEL: 'silent',
    KIT_TIMEOUT_MS: '3000',
    KIT_RATE_WINDOW_MS: '200',
    ...env,
  });
  const replicas = [0, 1].map(() => new Service({ config, logger: pino({ level: 'silent' }) })) as [Service, Service];
  await Promise.all(replicas.map((r) => r.bootstrap()));
  return {
    sandbox,
    replicas,
    async close() {
      await Promise.all(replicas.map((r) => r.close()));
      await sandbox.close();
    },
  };
}
