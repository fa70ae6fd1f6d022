import { MemoryJournal } from '../../src/scim/journal/memoryJournal';
import { JournalUnavailableError, type SubscriberChange } from '../../src/scim/journal/changeJournal';
import {
  type DeliveryDropReason,
  type DeliveryOutcome,
  OWN_WRITE_WAITS,
  RETRY_DELAYS_MS,
  WebhookHints,
} from '../../src/scim/webhookHints';
import { RereadBudget } from '../../src/scim/webhookRereadBudget';
import { type KitSandbox, startKitSandbox } from '@convertkit-scim/kit-sandbox';
import { harness } from '../kit/support';
import { ManualClock } from '../support/clock';

// WebhookHints on its own against the sandbox, with the journal only (MIRROR=off): the bound on pending
// subscribers and the re-read budget, each dropping what is over it, counted by reason; the server's own write
// recognised by its intent, or by its stamp in Kit until its journal entry arrives; a delivery that cannot be
// handled now kept and tried again.

const GET_BY_ID = 'GET /v4/subscribers/:id';

describe('WebhookHints', () => {
  let sb: KitSandbox;
  beforeAll(async () => {
    sb = await startKitSandbox({ rateLimit: { max: 100_000, windowMs: 1000 } });
  });
  afterAll(async () => {
    await sb.close();
  });

  function hintsWith(o: { rereadsPerWindow: number; maxPending?: number; journal?: MemoryJournal; stampKey?: string }) {
    const clock = new ManualClock();
    const dropped: DeliveryDropReason[] = [];
    const handled: DeliveryOutcome[] = [];
    const journal = o.journal ?? new MemoryJournal({ now: () => clock.now(), maxSubscribers: 1000 });
    const hints = new WebhookHints({
      kit: harness(sb).client,
      journal,
      budget: new RereadBudget({ ratePerWindow: o.rereadsPerWindow, sharePercent: 100, windowMs: 60_000, clock }),
      holdMs: 5000,
      clock,
      maxPending: o.maxPending,
      changed: async () => {},
      now: () => clock.now(),
      dropped: (r) => dropped.push(r),
      handled: (r) => handled.push(r),
      stampKey: o.stampKey,
    });
    return { hints, clock, dropped, handled, journal };
  }
  const subscribers = (n: number) =>
    Array.from({ length: n }, (_, i) =>
      sb.store.addSubscriber({ email_address: `hint.${Date.now()}.${i}@example.com` }),
    );
  const delivery = (id: number) => ({ subscriber: { id, state: 'inactive' } });

  it('drops deliveries for new subscribers while the pending ones are at the bound, and takes them again after', async () => {
    const { hints, clock, dropped, handled } = hintsWith({ rereadsPerWindow: 100, maxPending: 3 });
    const subs = subscribers(5);
    sb.resetCalls();
    for (const s of subs) expect(hints.accept(delivery(s.id))).toBe(true);
    expect(hints.accept(delivery(subs[0].id))).toBe(true); // joins the pending one: not dropped
    expect(dropped).toEqual(['pending_full', 'pending_full']);
    await hints.idle();
    expect(sb.calls().byEndpoint[GET_BY_ID]).toBe(3);
    expect(handled.sort()).toEqual(['joined', 'read', 'read', 'read']);

    // The three re-read subscribers are pending until their hold has passed.
    expect(hints.accept(delivery(subs[3].id))).toBe(true);
    expect(dropped).toHaveLength(3);
    await clock.advance(5000);
    expect(hints.accept(delivery(subs[3].id))).toBe(true);
    await hints.idle();
    expect(dropped).toHaveLength(3);
    expect(sb.calls().byEndpoint[GET_BY_ID]).toBe(4);
    expect(hints.stats()).toMatchObject({ delivered: 8, reads: 4, dropped: 3 });
  });

  it('drops deliveries over the re-read budget without a Kit call, until the window has passed', async () => {
    const { hints, clock, dropped } = hintsWith({ rereadsPerWindow: 2 });
    const subs = subscribers(4);
    sb.resetCalls();
    for (const s of subs) hints.accept(delivery(s.id));
    await hints.idle();
    expect(sb.calls().byEndpoint[GET_BY_ID]).toBe(2);
    expect(dropped).toEqual(['over_budget', 'over_budget']);
    await clock.advance(60_000);
    hints.accept(delivery(subs[3].id));
    await hints.idle();
    expect(sb.calls().byEndpoint[GET_BY_ID]).toBe(3);
    expect(dropped).toHaveLength(2);
  });

  it('a delivery of a state the server is writing (its intent) is its own write: no read, no change', async () => {
    const { hints, journal, handled } = hintsWith({ rereadsPerWindow: 100 });
    const [mine, theirs] = subscribers(2);
    const changes: number[] = [];
    journal.subscribe((c) => changes.push(c.subscriberId));
    await journal.intend({ subscriberId: mine.id }, 'inactive');
    sb.resetCalls();
    hints.accept(delivery(mine.id));
    hints.accept(delivery(theirs.id));
    await hints.idle({ holds: false });
    expect(sb.calls().byEndpoint[GET_BY_ID]).toBe(1);
    expect(handled.sort()).toEqual(['known', 'read']);
    // Withdrawn (the write failed): the next delivery is read like any other.
    await journal.withdraw({ subscriberId: mine.id });
    sb.store.setState(mine.id, 'inactive');
    hints.accept(delivery(mine.id));
    await hints.idle({ holds: false });
    expect(sb.calls().byEndpoint[GET_BY_ID]).toBe(2);
  });

  it('keeps a delivery it could not handle and tries it again after a backoff until it is handled', async () => {
    const clock = new ManualClock();
    let failures = 2;
    // A journal that cannot record for a while, as a Redis away would make it.
    const journal = new (class extends MemoryJournal {
      override async record(change: Parameters<MemoryJournal['record']>[0]): Promise<void> {
        if (failures > 0) {
          failures--;
          throw new JournalUnavailableError('Redis away');
        }
        await super.record(change);
      }
    })({ now: () => clock.now(), maxSubscribers: 1000 });
    const { hints, clock: hintsClock, dropped } = hintsWith({ rereadsPerWindow: 100, journal });
    const [s] = subscribers(1);
    sb.store.setState(s.id, 'inactive');
    const recorded: number[] = [];
    journal.subscribe((c) => recorded.push(c.subscriberId));
    hints.accept(delivery(s.id));
    await hints.idle({ holds: false });
    expect(hints.stats()).toMatchObject({ retrying: 1, retries: 0 });
    await hintsClock.advance(RETRY_DELAYS_MS[0]);
    await hints.idle({ holds: false });
    expect(hints.stats()).toMatchObject({ retrying: 1, retries: 1 });
    expect(recorded).toEqual([]);
    await hintsClock.advance(RETRY_DELAYS_MS[1]);
    await hints.idle({ holds: false });
    expect(recorded).toEqual([s.id]);
    expect(hints.stats()).toMatchObject({ retrying: 0, retries: 2, dropped: 0 });
    expect(dropped).toEqual([]);
  });

  it('a delivery a stamped write of the server explains waits for that write’s journal entry, and is decided if it never comes', async () => {
    const stampKey = (
      sb.store.listCustomFields().find((f) => f.label === 'scim_last_modified') ??
      sb.store.createCustomField('scim_last_modified')
    ).key;
    const { hints, journal, clock } = hintsWith({ rereadsPerWindow: 100, stampKey });
    const [own, lost] = subscribers(2);
    await journal.observe(
      [own, lost].map((s) => ({ id: s.id, state: 'active' as const })),
      clock.now(),
    );
    await clock.advance(10);
    // The server's deactivations: stamped in Kit, unsubscribed; their entries wait in another replica's spool.
    const stampedAt = clock.now();
    for (const s of [own, lost]) {
      sb.store.updateSubscriber(s.id, { fields: { [stampKey]: new Date(stampedAt).toISOString() } });
      sb.store.setState(s.id, 'inactive');
    }
    const changes: SubscriberChange[] = [];
    journal.subscribe((c) => changes.push(c));
    hints.accept(delivery(own.id));
    hints.accept(delivery(lost.id));
    await hints.idle({ holds: false });
    expect(changes).toEqual([]);
    expect(hints.stats()).toMatchObject({ retrying: 2 });

    const entry = {
      subscriberId: own.id,
      at: stampedAt,
      kind: 'deactivated',
      source: 'scim',
      state: 'inactive',
    } as const;
    await journal.record(entry);
    const waited = () => changes.map((c) => [c.subscriberId, c.source]);
    for (let i = 1; i < OWN_WRITE_WAITS; i++) {
      await clock.advance(RETRY_DELAYS_MS[RETRY_DELAYS_MS.length - 1]);
      await hints.idle({ holds: false });
    }
    expect(waited()).toEqual([[own.id, 'scim']]);
    expect(hints.stats()).toMatchObject({ retrying: 1 });
    await clock.advance(RETRY_DELAYS_MS[RETRY_DELAYS_MS.length - 1]);
    await hints.idle({ holds: false });
    expect(waited()).toEqual([
      [own.id, 'scim'],
      [lost.id, 'webhook'],
    ]);
    expect(hints.stats()).toMatchObject({ retrying: 0, dropped: 0 });
  });
});
