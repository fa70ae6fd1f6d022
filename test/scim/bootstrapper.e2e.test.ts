import pino from 'pino';
import request from 'supertest';
import { loadConfig } from '../../src/config/environment';
import { type KitSandbox, startKitSandbox } from '@convertkit-scim/kit-sandbox';
import { Service } from '../../src/app/service';
import { BACKENDS, TOKEN } from '../support/harness';

// /readyz turns 200 only once a SCIM request is served: a load balancer sends the IdP's first request the moment
// it sees 200. Every Kit call of the start-up checks is held by the sandbox's injected sleep, and /readyz is read
// at each one; at the first 200 a SCIM request goes out at once, with the call then held still held.

/** The sandbox's latency, held until the test releases it call by call (no timer, no stopwatch). */
class HeldCalls {
  private readonly waiting: Array<() => void> = [];
  private arrived?: () => void;
  private open = false;

  readonly sleep = (): Promise<void> => {
    if (this.open) return Promise.resolve();
    return new Promise((resolve) => {
      this.waiting.push(resolve);
      this.arrived?.();
    });
  };

  /** Resolves once a call is held. */
  next(): Promise<void> {
    if (this.waiting.length > 0) return Promise.resolve();
    return new Promise((resolve) => {
      this.arrived = resolve;
    });
  }

  releaseOne(): void {
    this.waiting.shift()?.();
  }

  /** Calls from now on pass; those held stay held until releaseAll. */
  letNewCallsThrough(): void {
    this.open = true;
  }

  releaseAll(): void {
    this.open = true;
    for (const release of this.waiting.splice(0)) release();
  }
}

describe.each(BACKENDS)('readiness during the start-up checks (Kit %s)', (backend) => {
  let sandbox: KitSandbox;
  let service: Service | undefined;
  const held = new HeldCalls();

  beforeAll(async () => {
    sandbox = await startKitSandbox({ rateLimit: { max: 100000, windowMs: 60000 }, sleep: held.sleep });
    sandbox.setFaults({ latencyMs: 1 });
  });

  afterAll(async () => {
    held.releaseAll();
    await service?.close();
    await sandbox.close();
  });

  it('answers 200 on /readyz only when a SCIM request sent at that moment is served', async () => {
    const credentials =
      backend === 'v3' ? { KIT_API_VERSION: 'v3', KIT_API_SECRET: sandbox.apiSecret } : { KIT_API_KEY: sandbox.apiKey };
    service = new Service({
      config: loadConfig({
        KIT_API_URL: sandbox.url,
        ...credentials,
        SCIM_BEARER_TOKENS: `okta=${TOKEN}`,
        AUDIT_LOG: 'off',
        KIT_RATE_WINDOW_MS: '200',
      }),
      logger: pino({ level: 'silent' }),
    });
    const app = service.app;
    let checksDone = false;
    const checks = service.bootstrap().finally(() => {
      checksDone = true;
    });
    let notReady = 0;
    for (;;) {
      await Promise.race([held.next(), checks]);
      const ready = await request(app).get('/readyz');
      if (ready.status === 200) break;
      expect(ready.status).toBe(503);
      // The checks finished without readiness: the loop would never end.
      expect(checksDone).toBe(false);
      notReady++;
      held.releaseOne();
    }
    held.letNewCallsThrough();
    const users = await request(app).get('/scim/v2/Users').set('Authorization', `Bearer ${TOKEN}`);
    expect(users.status).toBe(200);
    expect(users.body.totalResults).toBe(0);
    // Readiness was read while each start-up call was held: the account, the custom fields, the reserved tags.
    expect(notReady).toBeGreaterThanOrEqual(3);
    held.releaseAll();
    await checks;
  });
});
