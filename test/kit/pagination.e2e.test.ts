import { type KitSandbox, startKitSandbox } from '@convertkit-scim/kit-sandbox';
import { type Harness, harness } from './support';

// Cursor walks: one Kit call per 1,000 rows.

let sb: KitSandbox;
let h: Harness;

beforeAll(async () => {
  sb = await startKitSandbox({ rateLimit: { max: 100_000, windowMs: 1000 } });
  sb.store.seedSubscribers(2500);
});
afterAll(async () => {
  await h.limiter.stop();
  await sb.close();
});
beforeEach(() => {
  sb.resetCalls();
  h = harness(sb);
});

it('walks 2,500 subscribers in 3 calls of per_page 1000, every id exactly once', async () => {
  const ids: number[] = [];
  const sizes: number[] = [];
  for await (const page of h.client.subscribers.pages({ status: 'all' }, { priority: 'background' })) {
    sizes.push(page.items.length);
    ids.push(...page.items.map((s) => s.id));
  }
  expect(sizes).toEqual([1000, 1000, 500]);
  expect(new Set(ids).size).toBe(2500);
  expect(ids).toHaveLength(2500);
  expect(sb.calls().byEndpoint).toEqual({ 'GET /v4/subscribers': 3 });
});

it('resumes a walk after a cursor and reports the total when asked', async () => {
  const first = await h.client.subscribers.list({ status: 'all' }, { includeTotalCount: true });
  expect(first.totalCount).toBe(2500);
  expect(first.items).toHaveLength(1000);
  expect(first.pagination.has_next_page).toBe(true);
  const rest: number[] = [];
  for await (const page of h.client.subscribers.pages({ status: 'all' }, { startAfter: first.pagination.end_cursor })) {
    rest.push(...page.items.map((s) => s.id));
  }
  expect(rest).toHaveLength(1500);
  expect(rest.some((id) => first.items.some((s) => s.id === id))).toBe(false);
  expect(sb.calls().total).toBe(3);
});

it('walks a tag’s members page by page', async () => {
  const tag = sb.store.createTag('Everyone');
  sb.store.tagSubscribers(tag.id, sb.store.seedSubscribers(1200).ids);
  sb.resetCalls();
  let count = 0;
  for await (const page of h.client.tags.subscriberPages(tag.id, { status: 'all' })) count += page.items.length;
  expect(count).toBe(1200);
  expect(sb.calls().byEndpoint).toEqual({ 'GET /v4/tags/:tag_id/subscribers': 2 });
});
