import {
  claimsOf,
  eventsOf,
  groupClaimsOf,
  groupSubjectOf,
  KIT_EVENT_EXTENSION,
  SCIM_EVENT,
} from '../../src/events/securityEvent';
import { jtiOf } from '../../src/events/eventIds';
import type { SubscriberChange } from '../../src/scim/journal/changeJournal';

// Which SCIM events (draft-ietf-scim-events URIs) each journal change stands for.

const ISSUER = 'https://scim.example.com';

const change = (c: Partial<SubscriberChange>): SubscriberChange => ({
  subscriberId: 42,
  at: 1_700_000_000_500,
  kind: 'state',
  source: 'webhook',
  ...c,
});

describe('SCIM security events from journal changes', () => {
  it.each([
    [{ kind: 'created', source: 'scim', state: 'active' }, 'POST', { [SCIM_EVENT.createNotice]: { attributes: [] } }],
    [{ kind: 'updated', source: 'scim', state: 'active' }, 'PATCH', { [SCIM_EVENT.patchNotice]: { attributes: [] } }],
    [{ kind: 'updated', source: 'scim', state: 'active' }, 'PUT', { [SCIM_EVENT.putNotice]: { attributes: [] } }],
    [{ kind: 'deactivated', source: 'scim', state: 'inactive' }, 'PATCH', { [SCIM_EVENT.deactivate]: {} }],
    [{ kind: 'deleted', source: 'scim' }, 'DELETE', { [SCIM_EVENT.delete]: {} }],
  ] as const)('a SCIM write %j (%s) is its own event, with no Kit reason', (c, method, events) => {
    expect(eventsOf(change(c), method)).toEqual(events);
  });

  it.each([
    ['inactive', 'unsubscribe'],
    ['bounced', 'bounce'],
    ['complained', 'complaint'],
    ['cancelled', 'cancelled'],
  ] as const)('Kit state %s learned from Kit is prov:deactivate with reason %s', (state, reason) => {
    for (const source of ['webhook', 'rewalk', 'reread'] as const)
      expect(eventsOf(change({ state, source }), undefined)).toEqual({
        [SCIM_EVENT.deactivate]: { [KIT_EVENT_EXTENSION]: { reason, source } },
      });
  });

  it('a subscriber re-activated in Kit is prov:activate; a Kit-side create in a non-active state is both', () => {
    expect(Object.keys(eventsOf(change({ state: 'active' }), undefined)!)).toEqual([SCIM_EVENT.activate]);
    expect(Object.keys(eventsOf(change({ kind: 'created', state: 'bounced' }), undefined)!)).toEqual([
      SCIM_EVENT.createNotice,
      SCIM_EVENT.deactivate,
    ]);
    expect(eventsOf(change({ state: undefined }), undefined)).toBeUndefined();
  });

  it('claims: issuer, iat in seconds, a txn derived from the change, and the subject as a relative SCIM URI', () => {
    const a = claimsOf(change({ state: 'bounced', kitStamp: '2024-01-01T00:00:00.000Z' }), ISSUER, undefined)!;
    expect(a).toMatchObject({
      iss: ISSUER,
      iat: 1_700_000_000,
      sub_id: { format: 'scim', uri: '/Users/42', id: '42' },
    });
    expect(a.txn).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    // The same Kit-side change learned again, later and another way, is the same txn…
    const again = claimsOf(
      change({ state: 'bounced', kitStamp: '2024-01-01T00:00:00.000Z', at: 1_800_000_000_000, source: 'reread' }),
      ISSUER,
      undefined,
    )!;
    expect(again.txn).toBe(a.txn);
    // …another state, or the same state after another write of the server, is another change.
    const other = claimsOf(change({ state: 'bounced', kitStamp: '2024-02-01T00:00:00.000Z' }), ISSUER, undefined)!;
    expect(other.txn).not.toBe(a.txn);
    expect(
      claimsOf(change({ state: 'complained', kitStamp: '2024-01-01T00:00:00.000Z' }), ISSUER, undefined)!.txn,
    ).not.toBe(a.txn);
  });

  it('the server’s own writes: one txn per write (its kind and stamp time); a jti per receiver', () => {
    const scim = (at: number, kind: SubscriberChange['kind']) =>
      claimsOf(change({ source: 'scim', kind, at, state: 'inactive' }), ISSUER, undefined)!.txn;
    expect(scim(1_700_000_000_000, 'deactivated')).toBe(scim(1_700_000_000_000, 'deactivated'));
    expect(scim(1_700_000_000_000, 'deactivated')).not.toBe(scim(1_700_000_000_001, 'deactivated'));
    expect(scim(1_700_000_000_000, 'deactivated')).not.toBe(scim(1_700_000_000_000, 'deleted'));
    const txn = scim(1_700_000_000_000, 'deleted');
    expect(jtiOf(txn, 'https://a.example')).toBe(jtiOf(txn, 'https://a.example'));
    expect(jtiOf(txn, 'https://a.example')).not.toBe(jtiOf(txn, 'https://b.example'));
  });

  it('a subscriber the journal first saw in its state (its own state lost) is no event at all', () => {
    expect(eventsOf(change({ state: 'inactive', source: 'reread', firstSeen: true }), undefined)).toBeUndefined();
    expect(
      claimsOf(change({ state: 'inactive', source: 'reread', firstSeen: true }), ISSUER, undefined),
    ).toBeUndefined();
  });

  it('an update that knows the attributes it changed names them in the notice', () => {
    const attributes = ['name.givenName', 'title'];
    expect(eventsOf(change({ kind: 'updated', source: 'scim', attributes }), 'PATCH')).toEqual({
      [SCIM_EVENT.patchNotice]: { attributes },
    });
    expect(eventsOf(change({ kind: 'updated', source: 'scim', attributes }), 'PUT')).toEqual({
      [SCIM_EVENT.putNotice]: { attributes },
    });
  });

  it.each([
    ['created', ['displayName', 'members'], { [SCIM_EVENT.createNotice]: { attributes: ['displayName', 'members'] } }],
    ['patched', ['members'], { [SCIM_EVENT.patchNotice]: { attributes: ['members'] } }],
    ['replaced', [], { [SCIM_EVENT.putNotice]: { attributes: [] } }],
    ['deleted', [], { [SCIM_EVENT.delete]: {} }],
  ] as const)('a Group write %s is its event, sub_id /Groups/<id>', (kind, attributes, events) => {
    const g = { groupId: '7', kind, attributes: [...attributes], at: 1_700_000_000_500 };
    expect(groupClaimsOf(g, 'https://scim.example.com')).toMatchObject({
      iss: 'https://scim.example.com',
      iat: 1_700_000_000,
      sub_id: { format: 'scim', uri: '/Groups/7', id: '7' },
      events,
    });
    expect(groupSubjectOf(g)).toBe('Group:7');
  });

  it('RFC 9967 §2.4: every notice event carries exactly one of "data" and "attributes"; delete and state events carry neither', () => {
    const all = [
      ...(['created', 'updated', 'deactivated', 'deleted', 'state'] as const).flatMap((kind) =>
        (['scim', 'webhook'] as const).map((source) => eventsOf(change({ kind, source, state: 'inactive' }), 'PATCH')),
      ),
      ...(['created', 'patched', 'replaced', 'deleted'] as const).map(
        (kind) => groupClaimsOf({ groupId: '7', kind, attributes: [], at: 0 }, 'https://scim.example.com').events,
      ),
    ];
    for (const events of all)
      for (const [uri, payload] of Object.entries(events ?? {})) {
        const members = Object.keys(payload).filter((k) => k === 'data' || k === 'attributes');
        expect([uri, members.length]).toEqual([uri, uri.endsWith(':notice') ? 1 : 0]);
      }
  });
});
