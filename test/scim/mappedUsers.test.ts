import { userVersion } from '../../src/http/etag';
import type { Subscriber } from '../../src/kit/types';
import { SubscriberFieldMap } from '../../src/scim/fieldMap';
import { mappedUser } from '../../src/scim/mappedUsers';
import { deepFreeze } from '../../src/scim/paging/pageStore';
import { subscriberToUser } from '../../src/scim/userMapping';

const fields = new SubscriberFieldMap(new Map(SubscriberFieldMap.labels().map((l) => [l, `k_${l}`])));
const subscriber = (): Subscriber => ({
  id: 9,
  first_name: 'Ada',
  email_address: 'ada@example.com',
  state: 'active',
  created_at: '2024-01-01T00:00:00Z',
  fields: { k_scim_family_name: 'Lovelace', k_scim_department: 'Engines' },
});

describe('users of cached pages are mapped once', () => {
  it('maps a cached (frozen) subscriber listed again once and hands out the same read-only user', () => {
    const cached = deepFreeze(subscriber());
    // Listed once (a walk): mapped, not kept.
    expect(Object.isFrozen(mappedUser(cached, fields))).toBe(false);
    const first = mappedUser(cached, fields);
    expect(mappedUser(cached, fields)).toBe(first);
    expect(Object.isFrozen(first.meta)).toBe(true);
    expect(first).toEqual(subscriberToUser(cached, fields));
  });

  it('adds groups per request without touching the kept user', () => {
    const cached = deepFreeze(subscriber());
    mappedUser(cached, fields);
    const withGroups = mappedUser(cached, fields, [{ value: '3', display: 'Eng' }]);
    expect(withGroups.groups).toEqual([{ value: '3', display: 'Eng', type: 'direct' }]);
    expect(mappedUser(cached, fields).groups).toBeUndefined();
    expect(withGroups).toEqual(subscriberToUser(cached, fields, [{ value: '3', display: 'Eng' }]));
  });

  it('hands out the same frozen user for the same groups, a new one when they change', () => {
    const cached = deepFreeze(subscriber());
    const eng = [{ value: '3', display: 'Eng' }];
    mappedUser(cached, fields, eng);
    const first = mappedUser(cached, fields, eng);
    expect(mappedUser(cached, fields, [{ value: '3', display: 'Eng' }])).toBe(first);
    expect(Object.isFrozen(first.groups![0])).toBe(true);
    const renamed = mappedUser(cached, fields, [{ value: '3', display: 'Engineering' }]);
    expect(renamed).not.toBe(first);
    expect(renamed.groups).toEqual([{ value: '3', display: 'Engineering', type: 'direct' }]);
  });

  it('maps a subscriber that may still change (not frozen) afresh every time', () => {
    const live = subscriber();
    const first = mappedUser(live, fields);
    live.first_name = 'Augusta';
    expect(mappedUser(live, fields).name!.givenName).toBe('Augusta');
    expect(first.name!.givenName).toBe('Ada');
  });

  it('gives a listed user the same version (ETag) as the user read alone, however often it is asked', () => {
    const cached = deepFreeze(subscriber());
    mappedUser(cached, fields);
    const alone = userVersion(subscriberToUser(subscriber(), fields, [{ value: '3', display: 'Eng' }]));
    expect(userVersion(mappedUser(cached, fields, [{ value: '3', display: 'Eng' }]))).toBe(alone);
    expect(userVersion(mappedUser(cached, fields))).toBe(alone);
    const changed = { ...subscriber(), first_name: 'Augusta' };
    expect(userVersion(mappedUser(deepFreeze(changed), fields))).not.toBe(alone);
  });
});
