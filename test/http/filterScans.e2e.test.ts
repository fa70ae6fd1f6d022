import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type Harness, startHarness, USER_SCHEMA } from '../support/harness';
import { expectListResponse, expectScimError } from '../support/scim';
import { unique } from '../support/unique';

// A filter within the server's limits over a lookup mirror of 20,000 subscribers: its scan must leave the event
// loop to other requests between chunks, and a filter whose terms × rows exceed FILTER_SCAN_BUDGET is refused
// before it scans. Order is read from events (which answer arrived first), never from durations.

const N = 20_000;
/** Terms × rows one request may cost here: 64 terms × 20,000 rows fit, 256 × 20,000 do not. */
const BUDGET = 3_000_000;

/** `pairs` ANDed OR-pairs: 2^pairs OR'd terms once multiplied out. */
const pairsFilter = (pairs: number, hit?: { index: number; displayName: string }) =>
  Array.from({ length: pairs }, (_, i) =>
    i === hit?.index
      ? `(userName eq "q${i}" or displayName eq "${hit.displayName}")`
      : `(userName eq "q${i}" or displayName pr)`,
  ).join(' and ');

describe('filtered scans leave the event loop to other requests, within a budget', () => {
  let h: Harness;
  let server: Server;
  let base: string;
  const run = unique();
  const displayName = `Scan Target ${run}`;

  beforeAll(async () => {
    h = await startHarness({ env: { FILTER_SCAN_BUDGET: String(BUDGET) } });
    h.sandbox.store.seedSubscribers(N, { emailPrefix: 'scanned-' });
    const created = await h.post('/scim/v2/Users', {
      schemas: [USER_SCHEMA],
      userName: `scan.target.${run}@contoso.example`,
      displayName,
    });
    expect(created.status).toBe(201);
    // Walks the lookup mirror once, so the scans below read memory only (no Kit call, no I/O of their own).
    expectListResponse(await h.get(`/scim/v2/Users?filter=${encodeURIComponent('externalId eq "warm"')}`), 0);
    server = createServer(h.service.app);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
    await h.close();
  });

  /** Probes /healthz one after another, each once the previous was answered, until `request` is answered. */
  async function probedWhile<T>(request: PromiseLike<T>): Promise<{ result: T; probesFirst: number }> {
    let done = false;
    const answer = Promise.resolve(request).then((res) => {
      done = true;
      return res;
    });
    let probesFirst = 0;
    while (!done) {
      const probe = await fetch(`${base}/healthz`);
      expect(probe.status).toBe(200);
      await probe.arrayBuffer();
      if (!done) probesFirst++;
    }
    return { result: await answer, probesFirst };
  }

  it('answers /healthz while a 64-term filter scans 20,000 subscribers, and the filter is still exact', async () => {
    const filter = pairsFilter(6, { index: 2, displayName });
    const { result: scan, probesFirst } = await probedWhile(
      h.get(`/scim/v2/Users?count=1&filter=${encodeURIComponent(filter)}`),
    );
    const [found] = expectListResponse(scan, 1);
    expect(found.displayName).toBe(displayName);
    // A scan in one synchronous pass answers no probe sent after it began: here several come first.
    expect(probesFirst).toBeGreaterThanOrEqual(3);
  });

  it('answers /healthz while a page of 1,000 users is mapped and rendered, and the page is the same as the first answer', async () => {
    const page = `/scim/v2/Users?startIndex=1001&count=1000&filter=${encodeURIComponent('externalId pr or userName pr')}`;
    // The first request walks the mirror (its scan yields too); the second finds the walk's rows cached, so what
    // is left is mapping and rendering 1,000 users, tens of ms of work.
    const first = expectListResponse(await h.get(page), N + 1);
    expect(first).toHaveLength(1000);
    const { result: listing, probesFirst } = await probedWhile(h.get(page));
    const second = expectListResponse(listing, N + 1);
    expect(second).toEqual(first);
    // In one synchronous pass at most the probe racing the request's start could come first.
    expect(probesFirst).toBeGreaterThanOrEqual(2);
  });

  it('refuses a 256-term filter over 20,000 subscribers with 400 tooMany naming the budget', async () => {
    const { result: res, total } = await h.kitCalls(() =>
      h.get(`/scim/v2/Users?count=1&filter=${encodeURIComponent(pairsFilter(8))}`),
    );
    expectScimError(res, 400, 'tooMany');
    expect(res.body.detail).toContain('FILTER_SCAN_BUDGET');
    expect(res.body.detail).toContain('3,000,000');
    expect(res.body.detail).toContain('256');
    expect(total).toBe(0);
    // Nothing half-done is kept: the next filter over the same mirror is answered in full.
    expectListResponse(
      await h.get(`/scim/v2/Users?count=1&filter=${encodeURIComponent(`displayName eq "${displayName}"`)}`),
      1,
    );
  });
});
