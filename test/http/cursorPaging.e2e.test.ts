import { stampClock } from '../support/clock';
import { type Harness, startHarness } from '../support/harness';
import { expectScimError } from '../support/scim';

// RFC 9865 cursor paging over Kit's own cursors: one Kit call per page, cursors opaque and signed, valid on
// any server of the same Kit account, expiring after cursorTimeout.

const LIST = 'urn:ietf:params:scim:api:messages:2.0:ListResponse';
const N = 2500;
/** RFC 3986 §2.3, the only characters RFC 9865 §2 allows in a cursor value. */
const UNRESERVED = /^[A-Za-z0-9\-._~]+$/;

describe('cursor paging (RFC 9865)', () => {
  let h: Harness;
  let other: Harness;
  let clock = Math.floor(Date.now() / 1000) * 1000;
  beforeAll(async () => {
    h = await startHarness({ clock: stampClock(() => clock) });
    h.sandbox.store.seedSubscribers(N, { emailPrefix: 'cursor-', firstNamePrefix: 'C' });
    // A second server of the same Kit account: a replica, or this one restarted.
    other = await startHarness({ kitSandbox: h.sandbox, clock: stampClock(() => clock) });
  });
  afterAll(async () => {
    await other?.close();
    await h?.close();
  });

  async function walk(
    query: string,
    servers: Harness[] = [h],
  ): Promise<{ ids: string[]; pages: number; kitCalls: Array<Record<string, number>> }> {
    const ids: string[] = [];
    const kitCalls: Array<Record<string, number>> = [];
    let cursor = '';
    for (let page = 0; ; page++) {
      const server = servers[page % servers.length];
      const { result, byEndpoint } = await server.kitCalls(() =>
        server.get(`/scim/v2/Users?${query}&cursor=${encodeURIComponent(cursor)}`),
      );
      expect(result.status).toBe(200);
      expect(result.body.schemas).toEqual([LIST]);
      expect(result.body.startIndex).toBeUndefined();
      expect(result.body.itemsPerPage).toBe(result.body.Resources.length);
      // RFC 9865 §2: previousCursor is optional and never on the first page; this server pages forward only.
      expect(result.body).not.toHaveProperty('previousCursor');
      ids.push(...result.body.Resources.map((u: { id: string }) => u.id));
      kitCalls.push(byEndpoint);
      if (!result.body.nextCursor) return { ids, pages: page + 1, kitCalls };
      expect(result.body.nextCursor).toMatch(UNRESERVED);
      cursor = result.body.nextCursor;
      expect(page).toBeLessThan(100);
    }
  }

  it('walks 2,500 subscribers in pages of 1,000 for exactly one Kit call each', async () => {
    const { ids, pages, kitCalls } = await walk('count=1000&excludedAttributes=groups');
    expect(pages).toBe(3);
    expect(ids).toHaveLength(N);
    expect(new Set(ids).size).toBe(N);
    expect(kitCalls).toEqual([1, 2, 3].map(() => ({ 'GET /v4/subscribers': 1 })));
  });

  it('pages of 300 cost one Kit call each as well', async () => {
    const { ids, pages, kitCalls } = await walk('count=300&excludedAttributes=groups');
    expect(pages).toBe(Math.ceil(N / 300));
    expect(new Set(ids).size).toBe(N);
    expect(kitCalls.every((c) => Object.keys(c).length === 1 && c['GET /v4/subscribers'] === 1)).toBe(true);
  });

  it('a filtered walk decides the rows of each Kit page of 1,000: one Kit call per page', async () => {
    const filter = encodeURIComponent('userName ew "9@example.com"');
    const { ids, kitCalls } = await walk(`filter=${filter}&count=100&excludedAttributes=groups`);
    expect(ids).toHaveLength(N / 10);
    expect(new Set(ids).size).toBe(N / 10);
    expect(kitCalls.every((c) => c['GET /v4/subscribers'] === 1 && Object.keys(c).length === 1)).toBe(true);
  });

  it('a cursor from one server is accepted by another of the same Kit account', async () => {
    const { ids } = await walk('count=1000&excludedAttributes=groups', [h, other]);
    expect(new Set(ids).size).toBe(N);
  });

  it('refuses a tampered cursor, and one issued for another query, with 400 invalidCursor', async () => {
    const first = await h.get('/scim/v2/Users?cursor=&count=10&excludedAttributes=groups');
    const next: string = first.body.nextCursor;
    expect(next).toEqual(expect.any(String));
    const [body, mac] = next.split('.');
    const flipped = `${body.slice(0, -1)}${body.endsWith('A') ? 'B' : 'A'}.${mac}`;
    expectScimError(await h.get(`/scim/v2/Users?count=10&cursor=${encodeURIComponent(flipped)}`), 400, 'invalidCursor');
    expectScimError(await h.get(`/scim/v2/Users?count=10&cursor=not-a-cursor`), 400, 'invalidCursor');
    const filter = encodeURIComponent('active eq true');
    expectScimError(
      await h.get(`/scim/v2/Users?count=10&filter=${filter}&cursor=${encodeURIComponent(next)}`),
      400,
      'invalidCursor',
    );
    expectScimError(await h.get(`/scim/v2/Users?startIndex=1&cursor=`), 400, 'invalidValue');
  });

  it("refuses a count above maxPageSize, or other than the first page's, with 400 invalidCount", async () => {
    expectScimError(await h.get('/scim/v2/Users?cursor=&count=1001'), 400, 'invalidCount');
    expectScimError(await h.get('/scim/v2/Groups?cursor=&count=5000'), 400, 'invalidCount');
    const search = await h.post('/scim/v2/Users/.search', {
      schemas: ['urn:ietf:params:scim:api:messages:2.0:SearchRequest'],
      cursor: '',
      count: 1001,
    });
    expectScimError(search, 400, 'invalidCount');
    // Index paging keeps RFC 7644's reading: a count above the maximum is the maximum.
    const byIndex = await h.get('/scim/v2/Users?count=1001&excludedAttributes=groups');
    expect(byIndex.status).toBe(200);
    expect(byIndex.body.itemsPerPage).toBe(1000);

    const first = await h.get('/scim/v2/Users?cursor=&count=10&excludedAttributes=groups');
    const next = encodeURIComponent(first.body.nextCursor);
    expectScimError(await h.get(`/scim/v2/Users?cursor=${next}&count=11`), 400, 'invalidCount');
    expectScimError(await h.get(`/scim/v2/Users?cursor=${next}&count=0`), 400, 'invalidCount');
    expectScimError(await h.get(`/scim/v2/Users?cursor=${next}`), 400, 'invalidCount');
    const same = await h.get(`/scim/v2/Users?cursor=${next}&count=10&excludedAttributes=groups`);
    expect(same.status).toBe(200);
    expect(same.body.Resources).toHaveLength(10);

    // Left out on every page, count is the default on every page: the same count.
    const unsized = await h.get('/scim/v2/Users?cursor=&excludedAttributes=groups');
    expect(unsized.body.Resources).toHaveLength(100);
    const unsizedNext = await h.get(
      `/scim/v2/Users?cursor=${encodeURIComponent(unsized.body.nextCursor)}&excludedAttributes=groups`,
    );
    expect(unsizedNext.status).toBe(200);
    expect(unsizedNext.body.Resources).toHaveLength(100);

    h.sandbox.store.createTag('Count group 1');
    h.sandbox.store.createTag('Count group 2');
    const groups = await h.get('/scim/v2/Groups?cursor=&count=1&excludedAttributes=members');
    expectScimError(
      await h.get(`/scim/v2/Groups?cursor=${encodeURIComponent(groups.body.nextCursor)}&count=2`),
      400,
      'invalidCount',
    );
  });

  it('answers count=0 with totalResults only: no resources and no nextCursor', async () => {
    const all = await h.get('/scim/v2/Users?cursor=&count=0');
    expect(all.status).toBe(200);
    expect(all.body).toEqual({ schemas: [LIST], totalResults: N, itemsPerPage: 0, Resources: [] });
    const filter = encodeURIComponent('userName ew "9@example.com"');
    const filtered = await h.get(`/scim/v2/Users?filter=${filter}&cursor=&count=-5`);
    expect(filtered.body).toEqual({ schemas: [LIST], totalResults: N / 10, itemsPerPage: 0, Resources: [] });
    const groups = await h.get('/scim/v2/Groups?cursor=&count=0');
    const groupsByIndex = await h.get('/scim/v2/Groups?count=0');
    expect(groups.body).toEqual({
      schemas: [LIST],
      totalResults: groupsByIndex.body.totalResults,
      itemsPerPage: 0,
      Resources: [],
    });
  });

  it('lets attributes and excludedAttributes change between the pages of one walk', async () => {
    const first = await h.get('/scim/v2/Users?cursor=&count=5&attributes=userName');
    expect(Object.keys(first.body.Resources[0]).sort()).toEqual(['id', 'schemas', 'userName']);
    const second = await h.get(
      `/scim/v2/Users?cursor=${encodeURIComponent(first.body.nextCursor)}&count=5&excludedAttributes=groups`,
    );
    expect(second.status).toBe(200);
    expect(second.body.Resources).toHaveLength(5);
    expect(second.body.Resources[0].name).toBeDefined();
    const firstIds = first.body.Resources.map((u: { id: string }) => u.id);
    expect(second.body.Resources.some((u: { id: string }) => firstIds.includes(u.id))).toBe(false);
  });

  it('refuses a cursor past cursorTimeout with 400 expiredCursor', async () => {
    const config = await h.get('/scim/v2/ServiceProviderConfig');
    const timeout: number = config.body.pagination.cursorTimeout;
    const first = await h.get('/scim/v2/Users?cursor=&count=10&excludedAttributes=groups');
    clock += (timeout - 1) * 1000;
    expect((await h.get(`/scim/v2/Users?count=10&cursor=${encodeURIComponent(first.body.nextCursor)}`)).status).toBe(
      200,
    );
    clock += 2000;
    expectScimError(
      await h.get(`/scim/v2/Users?count=10&cursor=${encodeURIComponent(first.body.nextCursor)}`),
      400,
      'expiredCursor',
    );
  });

  it('advertises both methods in ServiceProviderConfig, index by default', async () => {
    const res = await h.get('/scim/v2/ServiceProviderConfig');
    expect(res.body.pagination).toEqual({
      cursor: true,
      index: true,
      defaultPaginationMethod: 'index',
      defaultPageSize: 100,
      maxPageSize: 1000,
      cursorTimeout: 3600,
    });
  });

  it('takes the cursor in a POST /.search body as well', async () => {
    const search = (body: Record<string, unknown>) =>
      h.post('/scim/v2/Users/.search', {
        schemas: ['urn:ietf:params:scim:api:messages:2.0:SearchRequest'],
        excludedAttributes: ['groups'],
        ...body,
      });
    const first = await search({ cursor: '', count: 1000 });
    expect(first.status).toBe(200);
    expect(first.body.Resources).toHaveLength(1000);
    const second = await search({ cursor: first.body.nextCursor, count: 1000 });
    expect(second.body.Resources).toHaveLength(1000);
    expect(second.body.Resources[0].id).not.toBe(first.body.Resources[0].id);
  });

  it('the root search pages by index only: a cursor there is 400 invalidValue', async () => {
    const res = await h.post('/scim/v2/.search', {
      schemas: ['urn:ietf:params:scim:api:messages:2.0:SearchRequest'],
      cursor: '',
    });
    expectScimError(res, 400, 'invalidValue');
    expect(res.body.detail).toMatch(/root search pages by startIndex/);
  });

  it('pages Groups by cursor too; a Users cursor is no Groups cursor', async () => {
    const made = [1, 2, 3, 4, 5].map((n) => String(h.sandbox.store.createTag(`Cursor group ${n}`).id));
    const ids: string[] = [];
    let cursor = '';
    for (let page = 0; page < 10; page++) {
      const res = await h.get(
        `/scim/v2/Groups?count=2&excludedAttributes=members&cursor=${encodeURIComponent(cursor)}`,
      );
      expect(res.status).toBe(200);
      expect(res.body.Resources.length).toBeLessThanOrEqual(2);
      expect(res.body).not.toHaveProperty('previousCursor');
      // Groups are listed whole in memory: their cursor pages say totalResults at no cost.
      expect(res.body.totalResults).toEqual(expect.any(Number));
      ids.push(...res.body.Resources.map((g: { id: string }) => g.id));
      if (!res.body.nextCursor) break;
      expect(res.body.nextCursor).toMatch(UNRESERVED);
      cursor = res.body.nextCursor;
    }
    expect(ids.filter((id) => made.includes(id))).toEqual(made);
    expect(new Set(ids).size).toBe(ids.length);
    const users = await h.get('/scim/v2/Users?cursor=&count=1&excludedAttributes=groups');
    expectScimError(
      await h.get(`/scim/v2/Groups?count=2&cursor=${encodeURIComponent(users.body.nextCursor)}`),
      400,
      'invalidCursor',
    );
  });

  it('leaves startIndex paging as it was', async () => {
    const res = await h.get('/scim/v2/Users?startIndex=2491&count=100&excludedAttributes=groups');
    expect(res.body.totalResults).toBe(N);
    expect(res.body.startIndex).toBe(2491);
    expect(res.body.Resources).toHaveLength(10);
    expect(res.body.nextCursor).toBeUndefined();
  });
});
