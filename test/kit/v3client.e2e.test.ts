import {
  KitAuthError,
  KitUnavailableError,
  KitUnreadableAnswerError,
  KitWritePendingError,
} from '../../src/kit/errors';
import { createKitLimiter } from '../../src/kit/limiter';
import type { KitCallRecord } from '../../src/kit/types';
import { KitV3Client } from '../../src/kit/v3/client';
import { type KitSandbox, startKitSandbox } from '@convertkit-scim/kit-sandbox';
import { ManualClock } from '../support/clock';
import { startLossyProxy } from './fixtures/lossyProxy';
import { expectNoSecrets, uniqueId } from './support';

// The v3 client over HTTP against the sandbox's v3 routes: the port's answers from v3's calls.

function v3Client(sb: KitSandbox, apiSecret = sb.apiSecret, baseUrl = sb.url) {
  const records: KitCallRecord[] = [];
  const client = new KitV3Client({
    baseUrl,
    apiSecret,
    provisioningTag: 'scim:users',
    limiter: createKitLimiter({ id: uniqueId('v3-test'), budget: 120, windowMs: 1000 }),
    onCall: (r) => records.push(r),
    sleep: async () => {},
    retry: { baseDelayMs: 1, maxDelayMs: 2 },
  });
  return { client, records, endpoints: () => records.map((r) => r.endpoint) };
}

describe('KitV3Client', () => {
  const clock = new ManualClock();
  let sb: KitSandbox;
  beforeAll(async () => {
    sb = await startKitSandbox({ now: () => clock.now(), v3UpdateDelayMs: 5_000 });
  });
  afterAll(() => sb.close());

  it('reads a 202 update back before answering: pending is a retryable error, applied is the subscriber', async () => {
    const { client, records, endpoints } = v3Client(sb);
    const labels = Array.from({ length: 11 }, (_, i) => `Async ${i}`);
    const keys = await client.customFields.ensure(labels);
    const sub = sb.store.addSubscriber({ email_address: 'async.v3@example.com' });
    const fields = Object.fromEntries([...keys.values()].map((k) => [k, 'v']));
    records.length = 0;
    const pending = await client.subscribers.update(sub.id, { fields }).catch((e) => e);
    expect(pending).toBeInstanceOf(KitWritePendingError);
    expect(pending).toBeInstanceOf(KitUnavailableError);
    expect(pending.retryAfterMs).toBe(5_000);
    expect(endpoints()).toEqual(['PUT /v3/subscribers/:id', 'GET /v3/subscribers/:id']);
    await clock.advance(5_000);
    records.length = 0;
    const applied = await client.subscribers.update(sub.id, { fields });
    expect(Object.values(applied.fields).filter((v) => v === 'v')).toHaveLength(11);
    expect(endpoints()).toEqual(['PUT /v3/subscribers/:id', 'GET /v3/subscribers/:id']);
    // Call records (metrics, logs, audit) name route patterns, never the parameter that carries the secret.
    expect(JSON.stringify(records)).not.toContain(sb.apiSecret);
  });

  it('answers status=all in two runs of page numbers (active, then unsubscribed), totals on request', async () => {
    const fresh = await startKitSandbox({ now: () => clock.now() });
    try {
      const ids = fresh.store.seedSubscribers(70).ids;
      fresh.store.setState(ids[0], 'inactive');
      const { client, endpoints } = v3Client(fresh);
      const first = await client.subscribers.list({ status: 'all' }, { includeTotalCount: true });
      expect(first.items).toHaveLength(50);
      expect(first.totalCount).toBe(70);
      expect(first.pagination.end_cursor).toBe('a:2');
      const seen = [...first.items];
      for await (const page of client.subscribers.pages({ status: 'all' }, { startAfter: 'a:2' }))
        seen.push(...page.items);
      expect(new Set(seen.map((s) => s.id))).toEqual(new Set(ids));
      expect(endpoints().filter((e) => e === 'GET /v3/subscribers')).toHaveLength(2 + 2);
      expect(await client.subscribers.findByEmail(seen.find((s) => s.id === ids[0])!.email_address)).toMatchObject({
        id: ids[0],
        state: 'inactive',
      });
    } finally {
      await fresh.close();
    }
  });

  it('refuses a wrong secret as KitAuthError without the secret in the error', async () => {
    const wrong = 'kit_secret_wrong_0123456789abcdef';
    const { client } = v3Client(sb, wrong);
    const err = await client.account().catch((e) => e);
    expect(err).toBeInstanceOf(KitAuthError);
    expect(err.errors).toEqual(['You do not have sufficient permissions to access this resource']);
    expectNoSecrets(err, [wrong, sb.apiSecret]);
  });

  it('keeps a dropped connection’s error free of the secret', async () => {
    const { client } = v3Client(sb);
    sb.setFaults({ dropRate: 1, endpoints: ['GET /v3/account'] });
    try {
      const err = await client.account().catch((e) => e);
      expect(err).toBeInstanceOf(KitUnavailableError);
      expectNoSecrets(err, [sb.apiSecret]);
    } finally {
      sb.resetFaults();
    }
  });

  describe('v3 writes are repeated as each declares', () => {
    const count = (endpoint: string) => sb.calls().byEndpoint[endpoint] ?? 0;

    it('an untag whose answer is lost is repeated, and the repeat’s 404 means done', async () => {
      const proxy = await startLossyProxy(sb.url);
      try {
        const { client, records } = v3Client(sb, sb.apiSecret, proxy.url);
        const tag = sb.store.createTag('v3 untag lost');
        const sub = sb.store.addSubscriber({ email_address: 'v3.untag.lost@example.com' });
        sb.store.tagSubscriber(tag.id, sub.id);
        proxy.dropNextResponses(1);
        expect(await client.tags.untag(tag.id, sub.id)).toBe(true);
        expect(records.map((r) => [r.endpoint, r.status])).toEqual([
          ['DELETE /v3/subscribers/:id/tags/:tag_id', 'error'],
          ['DELETE /v3/subscribers/:id/tags/:tag_id', 404],
        ]);
        expect(sb.store.subscribersOfTag(tag.id)).toEqual([]);
      } finally {
        await proxy.close();
      }
    });

    it('a tag creation whose answer is lost is repeated, and its 422 answered by a lookup: 1 tag', async () => {
      const proxy = await startLossyProxy(sb.url);
      try {
        const { client, endpoints } = v3Client(sb, sb.apiSecret, proxy.url);
        proxy.dropNextResponses(1);
        const tag = await client.tags.createIfFree('v3 created once');
        expect(tag).toMatchObject({ name: 'v3 created once' });
        expect(endpoints()).toEqual(['POST /v3/tags', 'POST /v3/tags', 'GET /v3/tags']);
        expect(sb.store.listTags().filter((t) => t.name === 'v3 created once')).toHaveLength(1);
      } finally {
        await proxy.close();
      }
    });

    it('an unsubscribe and an update are repeated after a 500; the tag subscribe too', async () => {
      const { client } = v3Client(sb);
      const sub = sb.store.addSubscriber({ email_address: 'v3.repeat@example.com' });
      const tag = sb.store.createTag('v3 repeated subscribe');
      const before = {
        update: count('PUT /v3/subscribers/:id'),
        unsubscribe: count('PUT /v3/unsubscribe'),
        subscribe: count('POST /v3/tags/:tag_id/subscribe'),
      };
      const failOnce = (endpoint: string) => sb.setFaults({ failNext: 1, failStatus: 500, endpoints: [endpoint] });
      try {
        failOnce('POST /v3/tags/:tag_id/subscribe');
        await client.tags.tagSubscriber(tag.id, sub.id);
        failOnce('PUT /v3/subscribers/:id');
        await client.subscribers.update(sub.id, { first_name: 'Again' });
        failOnce('PUT /v3/unsubscribe');
        expect((await client.subscribers.unsubscribe(sub.id)).state).not.toBe('active');
      } finally {
        sb.resetFaults();
      }
      expect(count('POST /v3/tags/:tag_id/subscribe') - before.subscribe).toBe(2);
      expect(count('PUT /v3/subscribers/:id') - before.update).toBe(2);
      expect(count('PUT /v3/unsubscribe') - before.unsubscribe).toBe(2);
      expect(sb.store.subscribersOfTag(tag.id)).toEqual([sub.id]);
    });

    it('a malformed v3 answer is KitUnreadableAnswerError after one call, the secret nowhere', async () => {
      const { client, records } = v3Client(sb);
      sb.setFaults({ malformedNext: 1, endpoints: ['GET /v3/tags'] });
      try {
        const err = await client.tags.list().catch((e) => e);
        expect(err).toBeInstanceOf(KitUnreadableAnswerError);
        expect(err.endpoint).toBe('GET /v3/tags');
        expect(records).toHaveLength(1);
        expectNoSecrets(err, [sb.apiSecret]);
      } finally {
        sb.resetFaults();
      }
    });
  });
});
