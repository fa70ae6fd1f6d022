import { readFileSync } from 'node:fs';
import path from 'node:path';
import { type Harness, oktaUser, startHarness } from '../support/harness';
import { expectListResponse, expectScimError } from '../support/scim';
import { unique } from '../support/unique';

// What clients really send to the list endpoints: bare-word filter values and value filters inside
// `attributes=`, as Microsoft's public SCIM reference collection sends them (fixture file), and the root search.

const GROUP = 'urn:ietf:params:scim:schemas:core:2.0:Group';
const USER = 'urn:ietf:params:scim:schemas:core:2.0:User';
const SEARCH = 'urn:ietf:params:scim:api:messages:2.0:SearchRequest';
const ENTERPRISE = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';

interface Queries {
  filters: Array<{ endpoint: 'Users' | 'Groups'; filter: string; finds: string[] }>;
  attributes: Array<{
    parameter: 'attributes' | 'excludedAttributes';
    value: string;
    keeps: string[];
    drops: string[];
    emailKeys?: string[];
  }>;
}

const queries: Queries = JSON.parse(
  readFileSync(path.join(__dirname, '../fixtures/http/microsoft-reference-queries.json'), 'utf8'),
);

let h: Harness;
const ids: Record<string, string> = {};
const groupIds: Record<string, string> = {};
/** The name a resource was created under here: Kit numbers subscribers and tags apart, so ids alone can repeat. */
const nameOf = (r: { id: string; schemas: string[] }) => {
  const own = r.schemas.includes(GROUP) ? groupIds : ids;
  return Object.keys(own).find((k) => own[k] === r.id) ?? r.id;
};

beforeAll(async () => {
  h = await startHarness();
  const otto = await h.post(
    '/scim/v2/Users',
    oktaUser(`otto.${unique()}@example.com`, {
      name: { givenName: 'Otto', familyName: 'Employee' },
      displayName: 'Otto Employee',
    }),
  );
  ids.otto = otto.body.id;
  ids.ada = (await h.post('/scim/v2/Users', oktaUser(`ada.${unique()}@example.com`))).body.id;
  groupIds.engineering = (await h.post('/scim/v2/Groups', { schemas: [GROUP], displayName: 'Engineering' })).body.id;
  expect([...Object.values(ids), groupIds.engineering].every(Boolean)).toBe(true);
});
afterAll(() => h.close());

describe('bare-word comparison values (Microsoft reference collection)', () => {
  it.each(queries.filters)('$endpoint?filter=$filter finds $finds', async ({ endpoint, filter, finds }) => {
    const got = expectListResponse(await h.get(`/scim/v2/${endpoint}?filter=${encodeURIComponent(filter)}`));
    expect(got.map((r) => nameOf(r)).sort()).toEqual([...finds].sort());
    const searched = expectListResponse(await h.post(`/scim/v2/${endpoint}/.search`, { schemas: [SEARCH], filter }));
    expect(searched.map((r) => nameOf(r)).sort()).toEqual([...finds].sort());
  });

  it('keeps quoted strings, numbers and keywords as they are', async () => {
    const active = expectListResponse(await h.get(`/scim/v2/Users?filter=${encodeURIComponent('active eq true')}`));
    expect(active).toHaveLength(2);
    const none = await h.get(
      `/scim/v2/Users?filter=${encodeURIComponent('name.familyName eq "employee" and userName eq 12')}`,
    );
    expect(expectListResponse(none)).toEqual([]);
  });

  it('still refuses what no reading makes a value', async () => {
    expectScimError(
      await h.get(`/scim/v2/Users?filter=${encodeURIComponent('userName eq a b')}`),
      400,
      'invalidFilter',
    );
    expectScimError(await h.get(`/scim/v2/Users?filter=${encodeURIComponent('userName eq (')}`), 400, 'invalidFilter');
  });
});

describe('value filters inside attributes= and excludedAttributes= read as their attribute', () => {
  it.each(queries.attributes)('$parameter=$value', async ({ parameter, value, keeps, drops, emailKeys }) => {
    const q = `${parameter}=${encodeURIComponent(value)}`;
    const one = await h.get(`/scim/v2/Users/${ids.otto}?${q}`);
    expect(one.status).toBe(200);
    const listed = expectListResponse(await h.get(`/scim/v2/Users?filter=${encodeURIComponent('userName sw O')}&${q}`));
    const searched = expectListResponse(
      await h.post('/scim/v2/Users/.search', { schemas: [SEARCH], filter: 'userName sw O', [parameter]: [value] }),
    );
    for (const user of [one.body, listed[0], searched[0]]) {
      expect(user.id).toBe(ids.otto);
      for (const key of keeps) expect(user).toHaveProperty([key]);
      for (const key of drops) expect(user).not.toHaveProperty([key]);
      if (emailKeys) expect(Object.keys(user.emails[0]).sort()).toEqual(emailKeys);
    }
  });

  it('refuses a malformed value filter there, naming the parameter', async () => {
    const res = await h.get(`/scim/v2/Users?attributes=${encodeURIComponent('emails[type eq "work"')}`);
    expectScimError(res, 400, 'invalidValue');
    expect(res.body.detail).toMatch(/^attributes is not a list of attribute names/);
    expectScimError(
      await h.get(`/scim/v2/Users?attributes=${encodeURIComponent('emails[__proto__ eq 1]')}`),
      400,
      'invalidValue',
    );
  });
});

describe('POST /.search at the root (RFC 7644 §3.4.3)', () => {
  const search = (body: Record<string, unknown>) => h.post('/scim/v2/.search', { schemas: [SEARCH], ...body });

  it('lists users, then groups, in one ListResponse', async () => {
    const res = await search({});
    const all = expectListResponse(res, 3);
    expect(all.map((r) => nameOf(r))).toEqual(['otto', 'ada', 'engineering']);
    expect(all[0].schemas).toContain(USER);
    expect(all[2].schemas).toEqual([GROUP]);
    expect(res.body).toMatchObject({ startIndex: 1, itemsPerPage: 3 });
  });

  it('pages across the two types as one list', async () => {
    const across = await search({ startIndex: 2, count: 2 });
    expect(expectListResponse(across, 3).map((r) => nameOf(r))).toEqual(['ada', 'engineering']);
    expect(across.body).toMatchObject({ startIndex: 2, itemsPerPage: 2 });
    const groupsOnly = await search({ startIndex: 3, count: 5 });
    expect(expectListResponse(groupsOnly, 3).map((r) => nameOf(r))).toEqual(['engineering']);
    expect(expectListResponse(await search({ startIndex: 9 }), 3)).toEqual([]);
    expect(expectListResponse(await search({ count: 0 }), 3)).toEqual([]);
  });

  it('filters both types; a filter on an attribute only users have reads no groups', async () => {
    const both = await search({ filter: 'displayName sw e or displayName sw o' });
    expect(expectListResponse(both, 2).map((r) => nameOf(r))).toEqual(['otto', 'engineering']);

    const { result, byEndpoint } = await h.kitCalls(() => search({ filter: 'name.familyName eq Employee' }));
    expect(expectListResponse(result, 1).map((r) => nameOf(r))).toEqual(['otto']);
    expect(Object.keys(byEndpoint).filter((e) => e.includes('tags'))).toEqual([]);

    const groups = expectListResponse(await search({ filter: 'members pr' }), 0);
    expect(groups).toEqual([]);
  });

  it('applies attributes and excludedAttributes to every resource', async () => {
    const slim = expectListResponse(await search({ attributes: ['displayName'] }));
    expect(slim.map((r) => Object.keys(r).sort())).toEqual([
      ['displayName', 'id', 'schemas'],
      ['displayName', 'id', 'schemas'],
      ['displayName', 'id', 'schemas'],
    ]);
    const without = expectListResponse(await search({ excludedAttributes: 'meta,members,groups' }));
    for (const r of without) expect(r).not.toHaveProperty('meta');
  });

  it('refuses a filter naming an attribute of neither type, and a bad one, as the type endpoints do', async () => {
    const unknown = await search({ filter: 'shoeSize eq 9' });
    expectScimError(unknown, 400, 'invalidFilter');
    expect(unknown.body.detail).toMatch(/shoeSize/);
    expectScimError(await search({ filter: 'userName zz "a"' }), 400, 'invalidFilter');
    expectScimError(await search({ count: 'many' }), 400, 'invalidValue');
  });

  it('other methods there are a plain 501', async () => {
    const res = await h.get('/scim/v2/.search');
    expectScimError(res, 501);
    expect(res.body.detail).toMatch(/POST \/\.search/);
  });
});

describe('sorting, as discovery says', () => {
  it('ServiceProviderConfig says sort is not supported, and a sortBy on another attribute is a clear 400', async () => {
    const spc = await h.get('/scim/v2/ServiceProviderConfig');
    expect(spc.body.sort).toEqual({ supported: false });
    for (const attribute of ['userName', 'displayName', 'emails', 'name.familyName']) {
      const res = await h.get(`/scim/v2/Users?sortBy=${attribute}`);
      expectScimError(res, 400, 'invalidValue');
      expect(res.body.detail).toMatch(/this server does not sort \(ServiceProviderConfig sort\.supported is false\)/);
    }
    // Kit's own order stays nameable.
    expect(expectListResponse(await h.get('/scim/v2/Users?sortBy=id')).map((r) => nameOf(r))).toEqual(['otto', 'ada']);
  });
});

describe('error details', () => {
  it('name a whole attribute path, however long', async () => {
    const res = await h.get(`/scim/v2/Users?sortBy=${ENTERPRISE}:department`);
    expectScimError(res, 400, 'invalidValue');
    expect(res.body.detail).toContain(`"${ENTERPRISE}:department"`);
  });

  it('still clip echoed hostile input', async () => {
    const res = await h.get(`/scim/v2/Users?sortBy=${'x'.repeat(5000)}`);
    expectScimError(res, 400, 'invalidValue');
    expect(res.body.detail.length).toBeLessThan(600);
  });
});
