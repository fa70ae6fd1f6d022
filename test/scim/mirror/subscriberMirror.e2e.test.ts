import { type KitSandbox, startKitSandbox } from '@convertkit-scim/kit-sandbox';
import { OwnWritePendingError } from '../../../src/scim/journal/changeJournal';
import { MemoryJournal } from '../../../src/scim/journal/memoryJournal';
import { MemoryMirrorStore } from '../../../src/scim/mirror/memoryMirrorStore';
import { SubscriberMirror } from '../../../src/scim/mirror/subscriberMirror';
import { harness } from '../../kit/support';
import { ManualClock } from '../../support/clock';

// The mirror's timer: walks at start, then every refresh period; a walk that failed is tried again within a
// minute. Real Kit client against the sandbox; time is the test's.

describe('SubscriberMirror walks on its clock', () => {
  let sandbox: KitSandbox;
  beforeAll(async () => {
    sandbox = await startKitSandbox({ rateLimit: { max: 100000, windowMs: 60000 } });
    sandbox.store.seedSubscribers(1500, { emailPrefix: 'timer-' });
  });
  afterAll(() => sandbox.close());

  function mirrorOn(clock: ManualClock, onDemand?: { freshMs: number }) {
    const { client } = harness(sandbox);
    const mirror = new SubscriberMirror({
      kit: client,
      store: new MemoryMirrorStore({ externalId: 'x', userName: 'y' }, () => clock.now()),
      journal: new MemoryJournal({ now: () => clock.now(), maxSubscribers: 10_000 }),
      keepFields: new Set(),
      allFieldKeys: () => [],
      clock,
      refreshMs: onDemand ? onDemand.freshMs : 3_600_000,
      onDemand,
      changed: async () => undefined,
    });
    return mirror;
  }

  /** The key of the server's stamp field in the sandbox (scim_last_modified), made once. */
  const stampField = () =>
    (
      sandbox.store.listCustomFields().find((f) => f.label === 'scim_last_modified') ??
      sandbox.store.createCustomField('scim_last_modified')
    ).key;

  /** A mirror that knows the server's stamp field, on a journal of its own and the test's clock. */
  const stampedMirror = () => {
    const clock = new ManualClock(Date.now());
    const journal = new MemoryJournal({ now: () => clock.now(), maxSubscribers: 10_000 });
    const stampKey = stampField();
    const mirror = new SubscriberMirror({
      kit: harness(sandbox).client,
      store: new MemoryMirrorStore({ externalId: 'x', userName: 'y' }, () => clock.now()),
      journal,
      keepFields: new Set([stampKey]),
      allFieldKeys: () => [stampKey],
      clock,
      refreshMs: 3_600_000,
      changed: async () => undefined,
      stampKey,
    });
    return { clock, journal, stampKey, mirror };
  };

  const pages = () => sandbox.calls().byEndpoint['GET /v4/subscribers'] ?? 0;

  it('retries a failed walk after a minute, then walks once per refresh period', async () => {
    const clock = new ManualClock(Date.now());
    const mirror = mirrorOn(clock);
    sandbox.resetCalls();
    // Kit refuses the first page once (401 is not retried by the client): the start-up walk fails.
    sandbox.setFaults({ failNext: 1, failStatus: 401, endpoints: ['GET /v4/subscribers'] });
    mirror.start();
    await clock.advance(0);
    await mirror.idle();
    expect(await mirror.complete()).toBe(false);
    expect(pages()).toBe(1);
    await clock.advance(59_000);
    expect(pages()).toBe(1);
    await clock.advance(1_000);
    await mirror.idle();
    expect(await mirror.complete()).toBe(true);
    expect(pages()).toBe(1 + 2);
    // Next one a whole period later, not a minute.
    await clock.advance(3_599_000);
    expect(pages()).toBe(3);
    await clock.advance(1_000);
    await mirror.idle();
    expect(pages()).toBe(5);
    mirror.stop();
    sandbox.resetFaults();
  });

  it('a lookup mirror walks only when a filter needs it, once per freshness period', async () => {
    const clock = new ManualClock(Date.now());
    const mirror = mirrorOn(clock, { freshMs: 300_000 });
    sandbox.resetCalls();
    mirror.start();
    await clock.advance(3_600_000);
    expect(pages()).toBe(0);
    // Ten lookups at once share one walk of the 1,500 subscribers (2 pages).
    expect(await Promise.all(Array.from({ length: 10 }, () => mirror.forFilters()))).toEqual(Array(10).fill(true));
    expect(pages()).toBe(2);
    // Single reads never trust it: GET by id and email lookups keep asking Kit.
    expect(await mirror.complete()).toBe(false);
    await clock.advance(299_000);
    expect(await mirror.forFilters()).toBe(true);
    expect(pages()).toBe(2);
    // Past its freshness the next lookup walks again, once; nothing walks by itself meanwhile.
    await clock.advance(2_000);
    expect(pages()).toBe(2);
    expect(await Promise.all([mirror.forFilters(), mirror.forFilters()])).toEqual([true, true]);
    expect(pages()).toBe(4);
    mirror.stop();
  });

  it('records a delivery the mirror already holds when the journal never saw that state, once', async () => {
    // After Redis lost its data, a re-walk can store a Kit-side unsubscribe as the mirror's baseline before the
    // delivery that announced it is handled: the delivery must still reach the journal (security events).
    const clock = new ManualClock(Date.now());
    const journal = new MemoryJournal({ now: () => clock.now(), maxSubscribers: 10_000 });
    const { client } = harness(sandbox);
    const mirror = new SubscriberMirror({
      kit: client,
      store: new MemoryMirrorStore({ externalId: 'x', userName: 'y' }, () => clock.now()),
      journal,
      keepFields: new Set(),
      allFieldKeys: () => [],
      clock,
      refreshMs: 3_600_000,
      changed: async () => undefined,
    });
    const [id] = sandbox.store.seedSubscribers(1, { emailPrefix: 'agreed-' }).ids;
    sandbox.store.unsubscribe(id);
    await mirror.walk();
    expect(await journal.read(0, 100)).toEqual([]);
    sandbox.resetCalls();
    expect(await mirror.hint(id, { id, state: 'inactive' })).toBe('known');
    expect(await mirror.hint(id, { id, state: 'inactive' })).toBe('known');
    expect(sandbox.calls().total).toBe(0);
    expect(await journal.read(0, 100)).toEqual([
      expect.objectContaining({ subscriberId: id, kind: 'state', source: 'webhook', state: 'inactive' }),
    ]);
    expect((await journal.read(0, 100))[0].firstSeen).toBeUndefined();
  });

  it('a delivery a stamped write of the server explains is left to that write’s journal entry, unless told to decide', async () => {
    const { clock, journal, stampKey, mirror } = stampedMirror();
    const [own, lost] = sandbox.store.seedSubscribers(2, { emailPrefix: 'stamped-' }).ids;
    await journal.observe(
      [own, lost].map((id) => ({ id, state: 'active' as const })),
      clock.now(),
    );
    await mirror.walk();
    await clock.advance(10);
    const stampedAt = clock.now();
    for (const id of [own, lost]) {
      sandbox.store.updateSubscriber(id, { fields: { [stampKey]: new Date(stampedAt).toISOString() } });
      sandbox.store.unsubscribe(id);
    }
    await expect(mirror.hint(own, { id: own, state: 'inactive' })).rejects.toBeInstanceOf(OwnWritePendingError);
    expect(await journal.read(0, 100)).toEqual([]);
    expect(await journal.lastState(own)).toBe('active');

    const entry = { subscriberId: own, at: stampedAt, kind: 'deactivated', source: 'scim', state: 'inactive' } as const;
    await journal.record(entry);
    expect(await mirror.hint(own, { id: own, state: 'inactive' })).toBe('known');
    expect(await mirror.hint(lost, { id: lost, state: 'inactive' }, { decide: true })).toBe('read');
    expect((await journal.read(0, 100)).map((c) => [c.subscriberId, c.source, c.state])).toEqual([
      [own, 'scim', 'inactive'],
      [lost, 'webhook', 'inactive'],
    ]);
  });

  it('a delivery of a subscriber the mirror never held is a creation in Kit only without the server’s stamp', async () => {
    const { clock, journal, stampKey, mirror } = stampedMirror();
    // The server's create (its intent and the mirror's copy lost with Redis's data), and one made in Kit.
    const stamped = sandbox.store.addSubscriber({
      email_address: `stamped-create.${Date.now()}@example.com`,
      fields: { [stampKey]: new Date(clock.now() - 1000).toISOString() },
    });
    const [inKit] = sandbox.store.seedSubscribers(1, { emailPrefix: 'kit-create-' }).ids;
    expect(await mirror.hint(stamped.id, { id: stamped.id, state: 'active' })).toBe('read');
    expect(await mirror.hint(inKit, { id: inKit, state: 'active' })).toBe('read');
    expect((await journal.read(0, 100)).map((c) => [c.subscriberId, c.kind, c.source])).toEqual([
      [inKit, 'created', 'webhook'],
    ]);
  });
});
