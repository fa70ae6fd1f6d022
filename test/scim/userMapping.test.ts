import type { Subscriber } from '../../src/kit/types';
import { ENTERPRISE_USER, KIT_USER, SubscriberFieldMap } from '../../src/scim/fieldMap';
import {
  addressChange,
  isDeleted,
  kitEmailOf,
  subscriberChanges,
  subscriberToUser,
  userToSubscriberWrite,
} from '../../src/scim/userMapping';

const map = new SubscriberFieldMap(new Map(SubscriberFieldMap.labels().map((l) => [l, `k_${l}`])));

const sub: Subscriber = {
  id: 9,
  first_name: 'Ada',
  email_address: 'ada@example.com',
  state: 'cancelled',
  created_at: '2024-01-01T00:00:00Z',
  fields: {
    k_scim_family_name: 'Lovelace',
    k_scim_user_name: null,
    k_scim_employee_number: '7',
    k_scim_deleted_at: null,
  },
};

describe('Subscriber ⇄ SCIM User mapping', () => {
  it('reports Kit state: anything but active is active:false, and the raw state is exposed', () => {
    const user = subscriberToUser(sub, map, [{ value: '3', display: 'Eng' }]);
    expect(user.id).toBe('9');
    expect(user.userName).toBe('ada@example.com');
    expect(user.active).toBe(false);
    expect(user[KIT_USER]).toEqual({ state: 'cancelled' });
    expect(user.name).toEqual({ givenName: 'Ada', familyName: 'Lovelace' });
    expect(user.emails).toEqual([{ value: 'ada@example.com', type: 'work', primary: true }]);
    expect(user[ENTERPRISE_USER]).toEqual({ employeeNumber: '7' });
    expect(user.groups).toEqual([{ value: '3', display: 'Eng', type: 'direct' }]);
    expect(user.meta.created).toBe('2024-01-01T00:00:00Z');
  });

  it('keeps a non-email userName in its reserved field and takes the email from emails', () => {
    const user = {
      userName: 'ada',
      emails: [
        { value: 'home@x.io', type: 'home' },
        { value: 'work@x.io', type: 'work' },
      ],
    };
    const email = kitEmailOf(user)!;
    expect(email).toBe('work@x.io');
    const write = userToSubscriberWrite(user, map, email);
    expect(write.fields.k_scim_user_name).toBe('ada');
    expect(kitEmailOf({ userName: 'ada', emails: [{ value: 'a@x.io' }, { value: 'p@x.io', primary: true }] })).toBe(
      'p@x.io',
    );
    expect(kitEmailOf({ userName: 'ada' })).toBeUndefined();
  });

  it('stores userName when only its letter case differs from the email Kit keeps', () => {
    expect(userToSubscriberWrite({ userName: 'Ada@X.io' }, map, 'Ada@X.io').fields.k_scim_user_name).toBe('Ada@X.io');
    expect(userToSubscriberWrite({ userName: 'ada@x.io' }, map, 'ada@x.io').fields.k_scim_user_name).toBeNull();
  });

  it('computes only the changes, so unchanged attributes cost no Kit write', () => {
    const next = userToSubscriberWrite(
      {
        userName: 'ada@example.com',
        name: { givenName: 'Ada', familyName: 'Byron' },
        [ENTERPRISE_USER]: { employeeNumber: '7' },
      },
      map,
      'ada@example.com',
    );
    expect(subscriberChanges(sub, next)).toEqual({ fields: { k_scim_family_name: 'Byron' } });
  });

  it('names the SCIM attributes behind Kit changes (security event notices), never values', () => {
    expect(map.attributesOf({ fields: { k_scim_family_name: 'Byron' } })).toEqual(['name.familyName']);
    expect(map.attributesOf({ email_address: 'a@b.example', first_name: 'Augusta' })).toEqual([
      'emails',
      'name.givenName',
    ]);
    expect(map.attributesOf({})).toEqual([]);
  });

  it('recognises the tombstone', () => {
    expect(isDeleted(sub, map)).toBe(false);
    expect(isDeleted({ ...sub, fields: { ...sub.fields, k_scim_deleted_at: '2024-05-01T00:00:00Z' } }, map)).toBe(true);
  });
});

describe('the address a write to an existing subscriber asks for (addressChange)', () => {
  const held = 'ada@example.com';
  const work = (value: string, extra: Record<string, unknown> = {}) => ({ value, type: 'work', ...extra });

  it('takes a new address from emails, and a userName that read as the old one follows it', () => {
    const out = addressChange({ userName: held, emails: [work('ada.new@example.com', { primary: true })] }, held, true);
    expect(out.email).toBe('ada.new@example.com');
    expect(out.user.userName).toBe('ada.new@example.com');
  });

  it('prefers the new one of two primaries (an add of a new primary), then work, then the first', () => {
    const two = [work(held, { primary: true }), { value: 'b@example.com', type: 'home', primary: true }];
    expect(addressChange({ userName: held, emails: two }, held, true).email).toBe('b@example.com');
    const none = [{ value: 'c@example.com', type: 'home' }, work('d@example.com')];
    expect(addressChange({ userName: 'ahopper', emails: none }, held, false).email).toBe('d@example.com');
    expect(addressChange({ emails: [{ value: 'e@example.com' }] }, held, false).email).toBe('e@example.com');
  });

  it('takes a new email userName as the address only while userName reads as the address', () => {
    const user = { userName: 'grace@example.com', emails: [work(held, { primary: true })] };
    expect(addressChange(user, held, true).email).toBe('grace@example.com');
    expect(addressChange(user, held, false)).toEqual({ email: held, user });
  });

  it('answers the held address, as Kit spells it, when the write names it in another letter case', () => {
    const user = { userName: held, emails: [work('ADA@Example.com', { primary: true })] };
    expect(addressChange(user, held, true)).toEqual({ email: held, user });
  });

  it('keeps a userName of its own when the address moves', () => {
    const out = addressChange({ userName: 'ahopper', emails: [work('new@example.com')] }, held, false);
    expect(out).toMatchObject({ email: 'new@example.com', user: { userName: 'ahopper' } });
  });

  it('has no address when neither emails nor userName holds one', () => {
    expect(addressChange({ userName: 'ahopper', emails: [{ value: 'not-an-email' }] }, held, false).email).toBe(
      undefined,
    );
  });
});
