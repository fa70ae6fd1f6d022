import path from 'node:path';
import { type Harness, startHarness } from '../support/harness';

// Microsoft's SCIM validator (the Postman collection of AzureAD/SCIMReferenceCode) with the shipped example
// mapping, mapping/entra-validator.yaml: the requests behind its "Name is updated" and "Body contains Germany"
// checks, replayed as the collection sends them (its capitalised "Primary", its meta and null members included).

const CORE = 'urn:ietf:params:scim:schemas:core:2.0:User';
const ENTERPRISE = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';

const phoneNumbers = [
  { type: 'fax', primary: false, value: '312-320-0500' },
  { type: 'mobile', primary: false, value: '312-320-1707' },
  { type: 'work', primary: true, value: '312-320-0932' },
];
const meta = {
  created: '2019-09-18T18:15:26.5788954+00:00',
  lastModified: '2019-09-18T18:15:26.5788976+00:00',
  resourceType: 'User',
};

function omalley(country: string, secondCountry: string | null, extra: Record<string, unknown> = {}) {
  return {
    userName: 'OMalley',
    active: true,
    addresses: [
      {
        country,
        formatted: '9132 Jennifer Way Suite 040\nSouth Nancy, MI 55645',
        locality: 'West Mercedes',
        postalCode: '99265',
        region: 'Montana',
        streetAddress: '4939 Hess Fork',
        type: 'work',
        primary: false,
      },
      {
        country: secondCountry,
        formatted: '18522 Lisa Unions\nEast Gregory, CT 52311',
        locality: null,
        postalCode: null,
        region: null,
        streetAddress: null,
        type: 'other',
        primary: false,
      },
    ],
    displayName: 'Kimberly Baker',
    emails: [
      { type: 'work', primary: true, value: 'anna33@example.com' },
      { type: 'other', primary: false, value: 'anna33@gmail.com' },
    ],
    meta,
    name: {
      formatted: 'Daniel Mcgee',
      familyName: 'OMalley',
      givenName: 'Darl',
      honorificPrefix: null,
      honorificSuffix: null,
    },
    phoneNumbers,
    preferredLanguage: 'xh',
    roles: [],
    title: 'Site engineer',
    externalId: '22fbc523-6032-4c5f-939d-5d4850cf3e52',
    schemas: [CORE],
    ...extra,
  };
}

describe('Microsoft SCIM validator with mapping/entra-validator.yaml', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({
      env: { SCIM_MAPPING_FILE: path.resolve(__dirname, '../../mapping/entra-validator.yaml') },
    });
  });
  afterAll(() => h.close());

  it('"User tests": Post EnterpriseUser, User 2 replace test, Get user2 Check replace → Name is updated', async () => {
    const created = await h.post('/scim/v2/Users', {
      userName: 'UserName222',
      active: true,
      displayName: 'lennay',
      schemas: [ENTERPRISE, CORE],
      externalId: '3bfbd3fa-b9a8-4a4b-9d0e-0f6c1a0b4d21',
      name: { formatted: 'Adrew Ryan', familyName: 'Ryan', givenName: 'Andrew' },
      emails: [
        { Primary: true, type: 'work', value: 'testing@bob2.com' },
        { Primary: false, type: 'home', value: 'testinghome@bob3.com' },
      ],
      [ENTERPRISE]: { Department: 'bob', Manager: { Value: 'SuzzyQ' } },
    });
    expect(created.status).toBe(201);
    const id2 = created.body.id;
    expect(created.body.name.formatted).toBe('Adrew Ryan');
    expect(created.body[ENTERPRISE]).toEqual({ department: 'bob', manager: { value: 'SuzzyQ' } });

    const replaced = await h.put(`/scim/v2/Users/${id2}`, {
      userName: 'UserNameReplace2',
      active: true,
      displayName: 'BobIsAmazing',
      schemas: [ENTERPRISE, CORE],
      id: id2,
      externalId: 'c1e8f5a2-2b7d-4c0e-8e52-5f1d9f3f8a10',
      name: { formatted: 'NewName', familyName: 'Leenay', givenName: 'Ryan' },
      emails: [
        { Primary: true, type: 'work', value: 'testing@bobREPLACE.com' },
        { Primary: false, type: 'home', value: 'testinghome@bob.com' },
      ],
    });
    expect(replaced.status).toBe(200);

    const read = await h.get(`/scim/v2/Users/${id2}`);
    expect(read.status).toBe(200);
    // pm.test("Name is updated"): jsonData.name.formatted eql "NewName"
    expect(read.body.name.formatted).toBe('NewName');
    expect(read.body.userName).toBe('UserNameReplace2');
  });

  it('"User tests with garbage": Post user "OMalley", Put a user OMalley → Body contains Germany', async () => {
    const created = await h.post('/scim/v2/Users', omalley('Bermuda', null));
    expect(created.status).toBe(201);
    expect(created.body.userName).toBe('OMalley');
    expect(created.body.active).toBe(true);
    const id = created.body.id;

    const put = await h.put(`/scim/v2/Users/${id}`, omalley('Germany', 'bahams', { id, active: false }));
    expect(put.status).toBe(200);
    expect(put.body.userName).toBe('OMalley');
    expect(put.body.active).toBe(false);
    // pm.test("Body contians Germany"): the response text includes "Germany"
    expect(put.text).toContain('Germany');
    expect(put.body.addresses[0]).toEqual(expect.objectContaining({ country: 'Germany', type: 'work' }));
    expect(put.body.addresses[1]).toEqual(expect.objectContaining({ country: 'bahams', type: 'other' }));
    // And it is held in Kit, not only echoed: a fresh read says the same.
    const read = await h.get(`/scim/v2/Users/${id}`);
    expect(read.text).toContain('Germany');
    expect(read.body.phoneNumbers).toEqual(
      expect.arrayContaining([
        { type: 'work', value: '312-320-0932' },
        { type: 'mobile', value: '312-320-1707' },
      ]),
    );
    expect(read.body.preferredLanguage).toBe('xh');
  });
});
