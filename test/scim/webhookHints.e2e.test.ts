import { MemoryJournal } from '../../src/scim/journal/memoryJournal';
import { type DeliveryDropReason, type DeliveryOutcome, WebhookHints } from '../../src/scim/webhookHints';
import { RereadBudget } from '../../src/scim/webhookRereadBudget';
import { type KitSandbox, startKitSandbox } from '@convertkit-scim/kit-sandbox';
import { harness } from '../kit/support';
import { ManualClock } from '../support/clock';

// WebhookHints on its own against the sandbox, with the journal only (MIRROR=off): the bound on pending
// subscribers and the re-read budget, each dropping what is over it, counted by reason.

const GET_BY_ID = 'GET /v4/subscribers/:id';

describe('WebhookHints', () => {
  let sb: KitSandbox;
  beforeAll(async () => {
    sb = await startKitSandbox({ rateLimit: { max: 100_000, windowMs: 1000 } });
  });
  afterAll(async () => {
    await sb.close();
  });

  function hintsWith(o: { rereadsPerWindow: number; maxPending?: number }) {
    const clock = new ManualClock();
    const dropped: DeliveryDropReason[] = [];
    const handled: DeliveryOutcome[] = [];
    const hints = new WebhookHints({
      kit: harness(sb).client,
      journal: new MemoryJournal({ now: () => clock.now(), maxSubscribers: 1000 }),
      budget: new RereadBudget({ ratePerWindow: o.rereadsPerWindow, sharePercent: 100, windowMs: 60_000, clock }),
      holdMs: 5000,
      clock,
      maxPending: o.maxPending,
      changed: async () => {},
      now: () => clock.now(),
      dropped: (r) => dropped.push(r),
      handled: (r) => handled.push(r),
    });
    return { hints, clock, dropped, handled };
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
});
