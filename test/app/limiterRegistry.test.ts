import pino from 'pino';
import { loadConfig } from '../../src/config/environment';
import { systemClock } from '../../src/platform/clock';
import { LimiterRegistry } from '../../src/app/limiterRegistry';

// One limiter per Kit credential, whichever tenants use it.

const quiet = { onQueue: () => undefined, onWait: () => undefined };

function configWith(key: string, url = 'https://api.kit.example') {
  return loadConfig({
    KIT_API_URL: url,
    KIT_API_KEY: key,
    SCIM_BEARER_TOKENS: 'okta=unit-token-0123456789abcdef0123456789',
  });
}

describe('LimiterRegistry', () => {
  const registry = () => new LimiterRegistry({ clock: systemClock, logger: pino({ level: 'silent' }) });

  it('gives tenants on one Kit key the same limiter, and tenants on different keys their own', async () => {
    const limiters = registry();
    const a = limiters.acquire(configWith('kit-key-one'), quiet);
    const b = limiters.acquire(configWith('kit-key-one'), quiet);
    const c = limiters.acquire(configWith('kit-key-two'), quiet);
    const d = limiters.acquire(configWith('kit-key-one', 'https://other-kit.example'), quiet);
    expect(b.limiter).toBe(a.limiter);
    expect(c.limiter).not.toBe(a.limiter);
    expect(d.limiter).not.toBe(a.limiter);
    expect(limiters.size).toBe(3);
    await limiters.stopAll();
  });

  it('stops a shared limiter only when its last user gives it back', async () => {
    const limiters = registry();
    const a = limiters.acquire(configWith('kit-key-one'), quiet);
    const b = limiters.acquire(configWith('kit-key-one'), quiet);
    await a.release();
    // Released twice by mistake: still counted once.
    await a.release();
    expect(await b.limiter.schedule(async () => 'still running')).toBe('still running');
    await b.release();
    await expect(b.limiter.schedule(async () => 'never')).rejects.toThrow();
    expect(limiters.size).toBe(0);
    // A later tenant on that key gets a fresh limiter.
    const again = limiters.acquire(configWith('kit-key-one'), quiet);
    expect(again.limiter).not.toBe(b.limiter);
    await again.release();
  });

  it("tells every tenant on a shared limiter of its queue (each tenant's metrics and status page)", async () => {
    const limiters = registry();
    const heard: string[] = [];
    const listener = (name: string) => ({ onQueue: () => heard.push(name), onWait: () => undefined });
    const a = limiters.acquire(configWith('kit-key-one'), listener('a'));
    const b = limiters.acquire(configWith('kit-key-one'), listener('b'));
    await a.limiter.schedule(async () => undefined);
    expect(heard).toContain('a');
    expect(heard).toContain('b');
    await a.release();
    heard.length = 0;
    await b.limiter.schedule(async () => undefined);
    expect(heard).not.toContain('a');
    await b.release();
  });
});
