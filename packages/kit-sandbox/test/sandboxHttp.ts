import axios, { type AxiosInstance } from 'axios';
import { type KitSandbox, type KitSandboxOptions, startKitSandbox } from '../src';

// Real loopback HTTP against a started sandbox. Every status is returned (never thrown) so tests assert on it.

export function kitHttp(sandbox: KitSandbox, headers: Record<string, string> = { 'X-Kit-Api-Key': sandbox.apiKey }) {
  return axios.create({ baseURL: sandbox.url, headers, validateStatus: () => true, proxy: false });
}

export function adminHttp(sandbox: KitSandbox): AxiosInstance {
  return axios.create({
    baseURL: `${sandbox.url}/__sandbox`,
    headers: { 'X-Sandbox-Admin': sandbox.apiKey },
    validateStatus: () => true,
    proxy: false,
  });
}

/** A sandbox per test file with a generous rate limit unless the test is about the limit. */
export function useSandbox(opts: KitSandboxOptions = {}) {
  const ref: { sandbox: KitSandbox; http: AxiosInstance } = {} as any;
  beforeAll(async () => {
    ref.sandbox = await startKitSandbox({ rateLimit: { max: 100_000, windowMs: 60_000 }, ...opts });
    ref.http = kitHttp(ref.sandbox);
  });
  afterAll(async () => {
    await ref.sandbox?.close();
  });
  return ref;
}

/** A clock tests move by hand. */
export function manualClock(start = Date.UTC(2024, 0, 15, 12, 0, 0)) {
  let t = start;
  return {
    now: () => t,
    advance: (ms: number) => {
      t += ms;
    },
    set: (ms: number) => {
      t = ms;
    },
  };
}
