import {
  KitAuthError,
  KitFieldNotStoredError,
  KitNotFoundError,
  KitUnavailableError,
  KitUnreadableAnswerError,
  KitValidationError,
} from '../../src/kit/errors';
import { type KitSandbox, startKitSandbox } from '@convertkit-scim/kit-sandbox';
import { type LossyProxy, startLossyProxy } from './fixtures/lossyProxy';
import { expectNoSecrets, type Harness, harness } from './support';

// KitClient against the sandbox over loopback HTTP: no stubs, every answer is what the fake Kit said.

let sb: KitSandbox;
let h: Harness;

beforeAll(async () => {
  sb = await startKitSandbox({ rateLimit: { max: 100_000, windowMs: 1000 } });
});
afterAll(async () => {
  await sb.close();
});
beforeEach(() => {
  sb.resetFaults();
  h = harness(sb);
});
afterEach(async () => {
  await h.limiter.stop();
});

const endpointCount = (endpoint: string) => sb.calls().byEndpoint[endpoint] ?? 0;

describe('upsert (POST /v4/subscribers)', () => {
  it('reports created on a new email and not on an existing one, updating the first name', async () => {
    const first = await h.client.subscribers.upsert({ email_address: 'upsert-1@example.com', first_name: 'Ada' });
    expect(first.created).toBe(true);
    expect(first.subscriber).toMatchObject({
      email_address: 'upsert-1@example.com',
      first_name: 'Ada',
      state: 'active',
    });
    const again = await h.client.subscribers.upsert({ email_address: 'upsert-1@example.com', first_name: 'Grace' });
    expect(again.created).toBe(false);
    expect(again.subscriber.id).toBe(first.subscriber.id);
    expect(again.subscriber.first_name).toBe('Grace');
  });

  it('never changes the state of an existing subscriber', async () => {
    const { subscriber } = await h.client.subscribers.upsert({ email_address: 'upsert-2@example.com' });
    const gone = await h.client.subscribers.unsubscribe(subscriber.id);
    expect(gone.state).toBe('inactive');
    const again = await h.client.subscribers.upsert({ email_address: 'upsert-2@example.com', state: 'active' });
    expect(again.created).toBe(false);
    expect(again.subscriber.state).toBe('inactive');
    expect((await h.client.subscribers.get(subscriber.id)).state).toBe('inactive');
  });

  it('a 422 is not repeated and carries Kit’s message verbatim', async () => {
    const before = endpointCount('POST /v4/subscribers');
    const err = await h.client.subscribers.upsert({ email_address: 'not an email' }).catch((e) => e);
    expect(err).toBeInstanceOf(KitValidationError);
    expect(err.errors).toEqual(['Email address is invalid']);
    expect(err.endpoint).toBe('POST /v4/subscribers');
    expect(endpointCount('POST /v4/subscribers') - before).toBe(1);
  });
});

describe('unsubscribe (POST /v4/subscribers/{id}/unsubscribe, a bare 204 in the v4 reference)', () => {
  it('reads the empty answer as done and reads the subscriber back', async () => {
    const { subscriber } = await h.client.subscribers.upsert({ email_address: 'unsub-204@example.com' });
    const unsubscribes = endpointCount('POST /v4/subscribers/:id/unsubscribe');
    const reads = endpointCount('GET /v4/subscribers/:id');
    const gone = await h.client.subscribers.unsubscribe(subscriber.id);
    expect(gone).toMatchObject({ id: subscriber.id, email_address: 'unsub-204@example.com', state: 'inactive' });
    expect(endpointCount('POST /v4/subscribers/:id/unsubscribe')).toBe(unsubscribes + 1);
    expect(endpointCount('GET /v4/subscribers/:id')).toBe(reads + 1);
  });

  it('with the subscriber just written in hand, costs the one call', async () => {
    const { subscriber } = await h.client.subscribers.upsert({ email_address: 'unsub-204-held@example.com' });
    const reads = endpointCount('GET /v4/subscribers/:id');
    const gone = await h.client.subscribers.unsubscribe(subscriber.id, undefined, subscriber);
    expect(gone).toMatchObject({ id: subscriber.id, state: 'inactive' });
    expect(endpointCount('GET /v4/subscribers/:id')).toBe(reads);
  });
});

describe('silent field drops (echo check)', () => {
  it('raises KitFieldNotStoredError for a field Kit does not have, and none once ensure() created it', async () => {
    const err = await h.client.subscribers
      .upsert({ email_address: 'drop-1@example.com', fields: { cost_centre: 'CC-42' } })
      .catch((e) => e);
    expect(err).toBeInstanceOf(KitFieldNotStoredError);
    expect(err.fields).toEqual(['cost_centre']);

    const keys = await h.client.customFields.ensure(['Cost centre']);
    expect(keys.get('Cost centre')).toBe('cost_centre');
    const ok = await h.client.subscribers.upsert({
      email_address: 'drop-1@example.com',
      fields: { cost_centre: 'CC-42' },
    });
    expect(ok.subscriber.fields.cost_centre).toBe('CC-42');

    const update = await h.client.subscribers
      .update(ok.subscriber.id, { fields: { cost_centre: 'CC-43', no_such_field: 'x' } })
      .catch((e) => e);
    expect(update).toBeInstanceOf(KitFieldNotStoredError);
    expect(update.fields).toEqual(['no_such_field']);
  });

  it('ensure() creates only the missing fields and is idempotent', async () => {
    const before = endpointCount('POST /v4/custom_fields');
    const a = await h.client.customFields.ensure(['Department', 'Employee number']);
    const b = await h.client.customFields.ensure(['Department', 'Employee number']);
    expect([...a.entries()]).toEqual([...b.entries()]);
    expect(endpointCount('POST /v4/custom_fields') - before).toBe(2);
  });
});

describe('reads', () => {
  it('findByEmail is one call over every state, regardless of case', async () => {
    const { subscriber } = await h.client.subscribers.upsert({ email_address: 'find-me@example.com' });
    await h.client.subscribers.unsubscribe(subscriber.id);
    const before = endpointCount('GET /v4/subscribers');
    const found = await h.client.subscribers.findByEmail('Find-Me@Example.com');
    expect(found?.id).toBe(subscriber.id);
    expect(found?.state).toBe('inactive');
    expect(endpointCount('GET /v4/subscribers') - before).toBe(1);
    expect(await h.client.subscribers.findByEmail('nobody@example.com')).toBeNull();
  });

  it('a missing subscriber is KitNotFoundError, labelled by route, not URL', async () => {
    const err = await h.client.subscribers.get(987654321).catch((e) => e);
    expect(err).toBeInstanceOf(KitNotFoundError);
    expect(err.endpoint).toBe('GET /v4/subscribers/:id');
    expect(h.records.map((r) => r.endpoint)).toEqual(['GET /v4/subscribers/:id']);
    expect(JSON.stringify(h.records)).not.toContain('987654321');
  });
});

describe('tags', () => {
  it('creates, renames, tags, lists and untags', async () => {
    const tag = await h.client.tags.create('Engineering');
    const { subscriber } = await h.client.subscribers.upsert({ email_address: 'tagged@example.com' });
    await h.client.tags.tagSubscriber(tag.id, subscriber.id);
    await h.client.tags.tagSubscriber(tag.id, subscriber.id); // idempotent in Kit
    expect((await h.client.subscribers.tags(subscriber.id)).map((t) => t.name)).toContain('Engineering');
    const renamed = await h.client.tags.renameIfFree(tag.id, 'Engineering (all)');
    expect(renamed?.name).toBe('Engineering (all)');
    const members = await h.client.tags.subscribers(tag.id);
    expect(members.items.map((s) => s.id)).toEqual([subscriber.id]);
    // Idempotent: true when the tag came off, false when it was not there (Kit's 404 is an answer here).
    expect(await h.client.tags.untag(tag.id, subscriber.id)).toBe(true);
    expect(await h.client.tags.untag(tag.id, subscriber.id)).toBe(false);
    expect((await h.client.tags.list()).some((t) => t.id === tag.id)).toBe(true);
  });

  it('a duplicate tag name is a uniqueness clash (422); a rename onto it answers null', async () => {
    await h.client.tags.create('Unique name');
    const err = await h.client.tags.create('Unique name').catch((e) => e);
    expect(err).toBeInstanceOf(KitValidationError);
    expect(err.isUniquenessClash).toBe(true);
    const other = await h.client.tags.create('Other name');
    expect(await h.client.tags.renameIfFree(other.id, 'Unique name')).toBeNull();
  });
});

describe('bulk', () => {
  it('chunks by 100 and aggregates per-item failures', async () => {
    const ids = sb.store.seedSubscribers(230, { emailPrefix: 'bulk-' }).ids;
    const tag = await h.client.tags.create('Bulk tag');
    const before = endpointCount('POST /v4/bulk/tags/subscribers');
    const taggings = ids.map((id) => ({ tag_id: tag.id, subscriber_id: id }));
    taggings.splice(150, 0, { tag_id: tag.id, subscriber_id: 999_999_999 });
    const tagged = await h.client.bulk.tagSubscribers(taggings);
    expect(endpointCount('POST /v4/bulk/tags/subscribers') - before).toBe(3);
    expect(tagged.succeeded).toHaveLength(230);
    expect(tagged.failures).toEqual([
      { item: { tag_id: tag.id, subscriber_id: 999_999_999 }, errors: ['Subscriber not found'] },
    ]);
    expect(await h.client.bulk.tagSubscribers([])).toEqual({ succeeded: [], failures: [] });
  });
});

describe('retries', () => {
  it('recovers from a 5xx storm on a GET (failNext 3), backing off between attempts', async () => {
    const { subscriber } = await h.client.subscribers.upsert({ email_address: 'storm@example.com' });
    h.records.length = 0;
    sb.setFaults({ failNext: 3, failStatus: 500, endpoints: ['GET /v4/subscribers/:id'] });
    const got = await h.client.subscribers.get(subscriber.id);
    expect(got.id).toBe(subscriber.id);
    expect(h.records.map((r) => [r.status, r.attempt])).toEqual([
      [500, 1],
      [500, 2],
      [500, 3],
      [200, 4],
    ]);
    // random 0.5 → 3/4 of base·2^(n-1) (base 10 ms).
    expect(h.delays).toEqual([8, 15, 30]);
  });

  it('a PUT that keeps failing gives up after maxAttempts with KitUnavailableError and a Retry-After', async () => {
    const { subscriber } = await h.client.subscribers.upsert({ email_address: 'put-fails@example.com' });
    const before = endpointCount('PUT /v4/subscribers/:id');
    sb.setFaults({ failNext: 10, failStatus: 500, endpoints: ['PUT /v4/subscribers/:id'] });
    const err = await h.client.subscribers.update(subscriber.id, { first_name: 'X' }).catch((e) => e);
    expect(err).toBeInstanceOf(KitUnavailableError);
    expect(err.status).toBe(500);
    expect(err.endpoint).toBe('PUT /v4/subscribers/:id');
    expect(err.retryAfterMs).toBe(60); // the backoff a 5th attempt would have waited
    expect(endpointCount('PUT /v4/subscribers/:id') - before).toBe(4);

    sb.setFaults({ failNext: 10, failStatus: 503 });
    const err503 = await h.client.subscribers.update(subscriber.id, { first_name: 'X' }).catch((e) => e);
    expect(err503).toBeInstanceOf(KitUnavailableError);
    expect(err503.retryAfterMs).toBe(1000); // Kit's Retry-After: 1
  });

  it('retries a timeout on a read (ETIMEDOUT is recorded)', async () => {
    // Margins wide enough that the retry, with no latency, answers within the timeout on a loaded machine.
    const t = harness(sb, {
      timeoutMs: 500,
      sleep: async () => {
        sb.resetFaults();
      },
    });
    sb.setFaults({ latencyMs: 1500, endpoints: ['GET /v4/account'] });
    const account = await t.client.account();
    expect(account.account.name).toBeTruthy();
    expect(t.records.map((r) => [r.status, r.errorCode])).toEqual([
      ['error', 'ETIMEDOUT'],
      [200, undefined],
    ]);
    await t.limiter.stop();
  });

  it('retries a dropped connection (socket hang up) on an idempotent write', async () => {
    const tag = await h.client.tags.create('Reset tag');
    const { subscriber } = await h.client.subscribers.upsert({ email_address: 'reset@example.com' });
    h.records.length = 0;
    sb.setFaults({ dropRate: 1, endpoints: ['POST /v4/tags/:tag_id/subscribers/:id'] });
    const t = harness(sb, { sleep: async () => sb.resetFaults() });
    await t.client.tags.tagSubscriber(tag.id, subscriber.id);
    expect(t.records.map((r) => [r.status, r.errorCode])).toEqual([
      ['error', 'ECONNRESET'],
      [201, undefined],
    ]);
    expect(sb.store.subscribersOfTag(tag.id)).toEqual([subscriber.id]);
    await t.limiter.stop();
  });

  it('a 503 on an idempotent write is repeated after Kit’s Retry-After; on a once-only write it is not', async () => {
    const tag = await h.client.tags.create('Retry-After tagging');
    const { subscriber } = await h.client.subscribers.upsert({ email_address: 'retry-after@example.com' });
    h.records.length = 0;
    sb.setFaults({ failNext: 1, failStatus: 503, endpoints: ['POST /v4/tags/:tag_id/subscribers/:id'] });
    await h.client.tags.tagSubscriber(tag.id, subscriber.id);
    expect(h.records.map((r) => r.status)).toEqual([503, 201]);
    expect(h.delays).toEqual([1000]); // the sandbox's Retry-After: 1, not the 8 ms backoff

    h.records.length = 0;
    sb.setFaults({ failNext: 1, failStatus: 503, endpoints: ['POST /v4/webhooks'] });
    const err = await h.client.webhooks
      .create('subscriber.subscriber_activate', 'https://hooks.example.com/503')
      .catch((e) => e);
    expect(err).toBeInstanceOf(KitUnavailableError);
    expect(err.retryAfterMs).toBe(1000);
    expect(h.records.map((r) => r.status)).toEqual([503]);
  });

  it('retries 413 (bulk queue full) on a bulk call', async () => {
    const [id] = sb.store.seedSubscribers(1, { emailPrefix: 'bulk-413-' }).ids;
    const tag = await h.client.tags.create('Bulk 413');
    sb.setFaults({ failNext: 1, failStatus: 413, endpoints: ['POST /v4/bulk/tags/subscribers'] });
    const before = h.records.length;
    const res = await h.client.bulk.tagSubscribers([{ tag_id: tag.id, subscriber_id: id }]);
    expect(res.succeeded).toHaveLength(1);
    expect(h.records.slice(before).map((r) => r.status)).toEqual([413, 200]);
  });
});

describe('ambiguous attempts that Kit applied (answer lost after Kit acted)', () => {
  let proxy: LossyProxy;
  let t: Harness;
  beforeEach(async () => {
    proxy = await startLossyProxy(sb.url);
    t = harness(sb, { baseUrl: proxy.url });
  });
  afterEach(async () => {
    await t.limiter.stop();
    await proxy.close();
  });

  it('upsert reports created when the repeat finds the subscriber its first attempt created', async () => {
    proxy.dropNextResponses(1);
    const res = await t.client.subscribers.upsert({ email_address: 'ambiguous@example.com', first_name: 'Amb' });
    expect(t.records.map((r) => [r.status, r.errorCode])).toEqual([
      ['error', 'ECONNRESET'],
      [200, undefined],
    ]);
    expect(res.created).toBe(true);
    expect(sb.store.findByEmail('ambiguous@example.com')?.id).toBe(res.subscriber.id);
  });

  it('tag creation answers the tag its first attempt created (422 "already been taken" → lookup)', async () => {
    proxy.dropNextResponses(1);
    const tag = await t.client.tags.create('Created twice?');
    expect(t.records.map((r) => [r.endpoint, r.status])).toEqual([
      ['POST /v4/tags', 'error'],
      ['POST /v4/tags', 422],
      ['GET /v4/tags', 200],
    ]);
    expect(tag.name).toBe('Created twice?');
    expect(sb.store.listTags().filter((x) => x.name === 'Created twice?')).toHaveLength(1);
  });

  it('custom field creation does the same', async () => {
    proxy.dropNextResponses(1);
    const field = await t.client.customFields.create('Created once');
    expect(t.records.map((r) => r.status)).toEqual(['error', 422, 200]);
    expect(field.key).toBe('created_once');
  });

  it('untag treats a 404 after an ambiguous attempt as done', async () => {
    const tag = await h.client.tags.create('Untag me');
    const { subscriber } = await h.client.subscribers.upsert({ email_address: 'untag@example.com' });
    await h.client.tags.tagSubscriber(tag.id, subscriber.id);
    proxy.dropNextResponses(1);
    // The first attempt removed it: the 404 of the repeat means done, and the tag did come off.
    expect(await t.client.tags.untag(tag.id, subscriber.id)).toBe(true);
    expect(t.records.map((r) => r.status)).toEqual(['error', 404]);
    expect(sb.store.subscribersOfTag(tag.id)).toEqual([]);
  });

  it('a 404 on a first attempt means the tag was not there: false, not done by us', async () => {
    const tag = await h.client.tags.create('Never tagged');
    const { subscriber } = await h.client.subscribers.upsert({ email_address: 'never-tagged@example.com' });
    expect(await t.client.tags.untag(tag.id, subscriber.id)).toBe(false);
  });
});

describe('timeouts after Kit applied the request: each request is repeated as it declares', () => {
  let proxy: LossyProxy;
  let t: Harness;
  beforeEach(async () => {
    proxy = await startLossyProxy(sb.url);
    // Long enough for any answer that is not withheld; a withheld one always ends in this timeout.
    t = harness(sb, { baseUrl: proxy.url, timeoutMs: 1000 });
  });
  afterEach(async () => {
    await t.limiter.stop();
    await proxy.close();
  });

  it('a timed-out tagging (idempotent) is repeated: 2 calls, tagged once', async () => {
    const tag = await h.client.tags.create('Timed-out tagging');
    const { subscriber } = await h.client.subscribers.upsert({ email_address: 'timed-out-tagging@example.com' });
    const before = endpointCount('POST /v4/tags/:tag_id/subscribers/:id');
    proxy.withholdNextResponses(1);
    await t.client.tags.tagSubscriber(tag.id, subscriber.id);
    expect(t.records.map((r) => [r.status, r.errorCode])).toEqual([
      ['error', 'ETIMEDOUT'],
      [200, undefined],
    ]);
    expect(endpointCount('POST /v4/tags/:tag_id/subscribers/:id') - before).toBe(2);
    expect(sb.store.subscribersOfTag(tag.id)).toEqual([subscriber.id]);
  });

  it('a timed-out tag creation (unique name) is repeated, and its 422 answered by a lookup: 3 calls, 1 tag', async () => {
    const before = { create: endpointCount('POST /v4/tags'), list: endpointCount('GET /v4/tags') };
    proxy.withholdNextResponses(1);
    const tag = await t.client.tags.create('Timed-out creation');
    expect(t.records.map((r) => [r.endpoint, r.status, r.errorCode])).toEqual([
      ['POST /v4/tags', 'error', 'ETIMEDOUT'],
      ['POST /v4/tags', 422, undefined],
      ['GET /v4/tags', 200, undefined],
    ]);
    expect(endpointCount('POST /v4/tags') - before.create).toBe(2);
    expect(endpointCount('GET /v4/tags') - before.list).toBe(1);
    expect(sb.store.listTags().filter((x) => x.name === 'Timed-out creation')).toEqual([
      expect.objectContaining({ id: tag.id }),
    ]);
  });

  it('a timed-out webhook creation (once) is not repeated: 1 call, KitUnavailableError, 1 webhook in Kit', async () => {
    const before = endpointCount('POST /v4/webhooks');
    const webhooksBefore = sb.store.listWebhooks().length;
    proxy.withholdNextResponses(1);
    const err = await t.client.webhooks
      .create('subscriber.subscriber_unsubscribe', 'https://hooks.example.com/once')
      .catch((e) => e);
    expect(err).toBeInstanceOf(KitUnavailableError);
    expect(endpointCount('POST /v4/webhooks') - before).toBe(1);
    expect(sb.store.listWebhooks()).toHaveLength(webhooksBefore + 1);
  });

  it('a webhook deletion (idempotent) whose answer is lost is repeated, and the repeat’s 404 means done', async () => {
    const hook = await h.client.webhooks.create('subscriber.subscriber_unsubscribe', 'https://hooks.example.com/gone');
    proxy.dropNextResponses(1);
    await t.client.webhooks.delete(hook.id);
    expect(t.records.map((r) => [r.endpoint, r.status])).toEqual([
      ['DELETE /v4/webhooks/:id', 'error'],
      ['DELETE /v4/webhooks/:id', 404],
    ]);
    expect(sb.store.listWebhooks().map((w) => w.id)).not.toContain(hook.id);
  });

  it('a webhook deletion’s 404 on a first attempt is still KitNotFoundError', async () => {
    const err = await t.client.webhooks.delete(987_654).catch((e) => e);
    expect(err).toBeInstanceOf(KitNotFoundError);
    expect(t.records).toHaveLength(1);
  });
});

describe('answers that are not the shape Kit documents', () => {
  it('a malformed read is KitUnreadableAnswerError naming the route and what differs, not retried', async () => {
    const { subscriber } = await h.client.subscribers.upsert({ email_address: 'malformed-read@example.com' });
    h.records.length = 0;
    sb.setFaults({ malformedNext: 1, endpoints: ['GET /v4/subscribers/:id'] });
    const err = await h.client.subscribers.get(subscriber.id).catch((e) => e);
    expect(err).toBeInstanceOf(KitUnreadableAnswerError);
    expect(err.status).toBe(200);
    expect(err.endpoint).toBe('GET /v4/subscribers/:id');
    expect(err.message).toBe(
      'Kit answered 200 to GET /v4/subscribers/:id with a body that is not the shape Kit documents (subscriber: invalid_type (expected object))',
    );
    expect(h.records.map((r) => r.status)).toEqual([200]);
  });

  it('a malformed answer to a write is the same error after one call; the body’s values appear nowhere', async () => {
    sb.setFaults({ malformedNext: 1, endpoints: ['POST /v4/subscribers'] });
    const before = endpointCount('POST /v4/subscribers');
    const err = await h.client.subscribers.upsert({ email_address: 'malformed-write@example.com' }).catch((e) => e);
    expect(err).toBeInstanceOf(KitUnreadableAnswerError);
    expect(endpointCount('POST /v4/subscribers') - before).toBe(1);
    // The sandbox applied it: the answer, not the request, was broken.
    expect(sb.store.findByEmail('malformed-write@example.com')).toBeDefined();
    expect(`${err.message} ${JSON.stringify(err)}`).not.toMatch(/Injected fault|malformed-write@/);
  });

  it('a list answer without its array and pagination is refused as a whole', async () => {
    sb.setFaults({ malformedNext: 1, endpoints: ['GET /v4/tags'] });
    const err = await h.client.tags.list().catch((e) => e);
    expect(err).toBeInstanceOf(KitUnreadableAnswerError);
    expect(err.message).toMatch(/tags: invalid_type \(expected array\); pagination: invalid_type/);
  });
});

describe('credentials and secrets', () => {
  it('a 401 with an API key is KitAuthError, not retried, and the key appears nowhere', async () => {
    const secret = 'kit_wrong_key_0123456789abcdef';
    const t = harness(sb, { credentials: { kind: 'apiKey', apiKey: secret } });
    const err = await t.client.account().catch((e) => e);
    expect(err).toBeInstanceOf(KitAuthError);
    expect(err.status).toBe(401);
    expect(t.records).toHaveLength(1);
    expectNoSecrets(err, [secret]);
    expect(JSON.stringify(t.records)).not.toContain(secret);
    await t.limiter.stop();
  });

  it('a network failure is KitUnavailableError with a sanitised cause (no axios config, no key)', async () => {
    const secret = 'kit_key_for_a_dead_host_abcdef';
    const t = harness(sb, { baseUrl: 'http://127.0.0.1:1', credentials: { kind: 'apiKey', apiKey: secret } });
    const err = await t.client.account().catch((e) => e);
    expect(err).toBeInstanceOf(KitUnavailableError);
    expect(String(err.cause)).toContain('ECONNREFUSED');
    expect(err.retryAfterMs).toBeGreaterThan(0);
    expect(t.records.map((r) => r.errorCode)).toEqual(['ECONNREFUSED', 'ECONNREFUSED', 'ECONNREFUSED', 'ECONNREFUSED']);
    expectNoSecrets(err, [secret]);
    await t.limiter.stop();
  });
});
