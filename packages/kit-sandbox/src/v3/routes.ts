import type { Subscriber } from '../kitTypes';
import type { Clock } from '../clock';
import { kitTimestamp } from '../clock';
import { normaliseEmail } from '../email';
import type { SubscriberRecord } from '../records';
import { notFound, Rejection, unprocessable } from '../rejection';
import { tagJson } from '../render';
import type { Exchange, Route } from '../router';
import { idParam } from '../routes/context';
import type { SandboxStore } from '../store';

// Kit's v3 API over the same account as the v4 routes (kit-api-v3-legacy.txt). What differs from v4, and what
// the sandbox makes of the parts Kit's v3 page leaves unsaid (src/sandbox/README.md "v3"):
// - page-numbered lists of V3_PAGE_SIZE: `page` (1-based), `total_pages`, `total_subscribers`; no per_page, no
//   cursors, no bulk endpoints;
// - GET /v3/subscribers lists active subscribers; `sort_field=cancelled_at` lists the unsubscribed (every
//   non-active state); `email_address` is an exact, case-insensitive match within that list;
// - no subscriber creation: POST /v3/tags/{id}/subscribe creates by email, and re-subscribes an unsubscribed
//   email (the sandbox assumes the worst Kit could do here, so a client must never subscribe one);
// - PUT /v3/subscribers/{id} with 11–140 fields answers 202 with the subscriber as it was and applies the
//   change later: `v3UpdateDelayMs` after it was accepted, at the start of the first v3 call from then on;
// - tags can be created but not renamed; custom fields are created by label.

export const V3_PAGE_SIZE = 50;
/** Kit v3: "11 to 140 custom fields, status 202". */
export const V3_ASYNC_FIELDS_FROM = 11;
export const V3_MAX_FIELDS = 140;

interface PendingUpdate {
  id: number;
  body: Record<string, unknown>;
  dueAt: number;
}

export interface V3RouteOptions {
  store: SandboxStore;
  now: Clock;
  /** How long a 202 update waits before it is applied (default 0: before the next v3 call is answered). */
  updateDelayMs?: number;
}

export class V3Routes {
  private pending: PendingUpdate[] = [];

  constructor(private readonly opts: V3RouteOptions) {}

  /** Applies the 202 updates that are due; the server calls it before every v3 handler. */
  applyDue(): void {
    const now = this.opts.now();
    const due = this.pending.filter((p) => p.dueAt <= now);
    if (due.length === 0) return;
    this.pending = this.pending.filter((p) => p.dueAt > now);
    for (const p of due) {
      if (this.opts.store.subscriberRecord(p.id)) this.opts.store.updateSubscriber(p.id, p.body);
    }
  }

  get pendingCount(): number {
    return this.pending.length;
  }

  routes(): Route[] {
    const { store } = this.opts;
    const render = (s: SubscriberRecord): Subscriber => store.render(s);
    const subscriberById = (x: Exchange, name = 'id') => {
      const s = store.subscriberRecord(idParam(x, name));
      if (!s) throw notFound();
      return s;
    };
    const bySubscriberEmail = (raw: unknown) => {
      const email = typeof raw === 'string' ? normaliseEmail(raw) : null;
      const s = email ? store.recordByEmail(email) : undefined;
      if (!s) throw notFound();
      return s;
    };
    const tagById = (x: Exchange) => {
      const tag = store.tagRecord(idParam(x, 'tag_id'));
      if (!tag) throw notFound();
      return tag;
    };

    return [
      {
        method: 'GET',
        pattern: '/v3/account',
        handle: () => ({
          status: 200,
          body: {
            name: store.account.name,
            plan_type: store.account.plan_type,
            primary_email_address: store.account.primary_email_address,
          },
        }),
      },
      {
        method: 'GET',
        pattern: '/v3/subscribers',
        handle: ({ query }) => {
          const cancelled = query.get('sort_field') === 'cancelled_at';
          const sortField = query.get('sort_field');
          if (sortField && sortField !== 'cancelled_at') throw new Rejection(400, 'sort_field must be cancelled_at');
          const email = query.get('email_address');
          const wanted = email ? (normaliseEmail(email) ?? email.toLowerCase()) : null;
          const from = dayParam(query, 'from');
          const to = dayParam(query, 'to');
          const updatedFrom = dayParam(query, 'updated_from');
          const rows: SubscriberRecord[] = [];
          const all = store.subscribersById();
          for (let i = 0; i < all.length; i++) {
            const s = all.item(i);
            if (!s) continue;
            if ((s.state === 'active') === cancelled) continue;
            if (wanted !== null && s.email !== wanted) continue;
            if (from !== undefined && s.createdAt < from) continue;
            if (to !== undefined && s.createdAt >= to + 86_400_000) continue;
            if (updatedFrom !== undefined && s.updatedAt < updatedFrom) continue;
            rows.push(s);
          }
          if (query.get('sort_order') === 'desc') rows.reverse();
          const { page, totalPages, items } = pageOf(rows, query);
          return {
            status: 200,
            body: { total_subscribers: rows.length, page, total_pages: totalPages, subscribers: items.map(render) },
          };
        },
      },
      {
        method: 'GET',
        pattern: '/v3/subscribers/:id',
        handle: (x) => ({ status: 200, body: { subscriber: render(subscriberById(x)) } }),
      },
      {
        method: 'PUT',
        pattern: '/v3/subscribers/:id',
        handle: (x) => {
          const s = subscriberById(x);
          const fields = x.body.fields;
          const n = fields && typeof fields === 'object' ? Object.keys(fields).length : 0;
          if (n > V3_MAX_FIELDS) throw new Rejection(400, `A maximum of ${V3_MAX_FIELDS} custom fields are allowed`);
          const body = { email_address: x.body.email_address, first_name: x.body.first_name, fields };
          if (n >= V3_ASYNC_FIELDS_FROM) {
            // The email must be free now; the rest is applied later.
            if (body.email_address !== undefined) {
              const email = normaliseEmail(body.email_address);
              if (!email) throw unprocessable('Email address is invalid');
              const owner = store.recordByEmail(email);
              if (owner && owner !== s) throw unprocessable('Email address has already been taken');
            }
            this.pending.push({ id: s.id, body, dueAt: this.opts.now() + (this.opts.updateDelayMs ?? 0) });
            return { status: 202, body: { subscriber: render(s) } };
          }
          return { status: 200, body: { subscriber: render(store.updateSubscriber(s.id, body)) } };
        },
      },
      {
        method: 'PUT',
        pattern: '/v3/unsubscribe',
        handle: ({ body }) => {
          const s = bySubscriberEmail(body.email);
          return { status: 200, body: { subscriber: render(store.unsubscribe(s.id)) } };
        },
      },
      {
        method: 'GET',
        pattern: '/v3/subscribers/:id/tags',
        handle: (x) => ({ status: 200, body: { tags: store.tagsOfSubscriber(subscriberById(x).id) } }),
      },
      {
        method: 'DELETE',
        pattern: '/v3/subscribers/:id/tags/:tag_id',
        handle: (x) => {
          const s = subscriberById(x);
          const tag = tagById(x);
          if (!store.untagSubscriber(tag.id, s.id)) throw notFound();
          return { status: 200, body: tagJson(tag) };
        },
      },
      {
        method: 'GET',
        pattern: '/v3/tags',
        handle: () => ({ status: 200, body: { tags: store.listTags() } }),
      },
      {
        method: 'POST',
        pattern: '/v3/tags',
        handle: ({ body }) => {
          const tag = (body.tag ?? {}) as Record<string, unknown>;
          return { status: 201, body: tagJson(store.createTagRecord(tag.name)) };
        },
      },
      {
        method: 'POST',
        pattern: '/v3/tags/:tag_id/subscribe',
        handle: (x) => {
          const tag = tagById(x);
          const email = typeof x.body.email === 'string' ? normaliseEmail(x.body.email) : null;
          if (!email) throw unprocessable('Email address is invalid');
          const { record } = store.upsertSubscriber({
            email_address: email,
            first_name: x.body.first_name,
            fields: x.body.fields,
          });
          // Subscribing is what makes a subscriber active in v3: an unsubscribed email is re-subscribed.
          if (record.state !== 'active') store.setState(record.id, 'active');
          const { tagging } = store.tagSubscriber(tag.id, record.id);
          for (const extra of Array.isArray(x.body.tags) ? x.body.tags : []) {
            if (typeof extra === 'number' && store.tagRecord(extra)) store.tagSubscriber(extra, record.id);
          }
          return {
            status: 200,
            body: {
              subscription: {
                id: tagging.seq,
                state: 'active',
                created_at: kitTimestamp(tagging.taggedAt),
                source: null,
                referrer: null,
                subscribable_id: tag.id,
                subscribable_type: 'tag',
                subscriber: { id: record.id },
              },
            },
          };
        },
      },
      {
        method: 'POST',
        pattern: '/v3/tags/:tag_id/unsubscribe',
        handle: (x) => {
          const tag = tagById(x);
          const s = bySubscriberEmail(x.body.email);
          if (!store.untagSubscriber(tag.id, s.id)) throw notFound();
          return { status: 200, body: tagJson(tag) };
        },
      },
      {
        method: 'GET',
        pattern: '/v3/tags/:tag_id/subscriptions',
        handle: (x) => {
          const tag = tagById(x);
          const state = x.query.get('subscriber_state');
          const rows = [...tag.members.values()].filter(
            (t) => !state || (state === 'active') === (t.subscriber.state === 'active'),
          );
          const { page, totalPages, items } = pageOf(rows, x.query);
          return {
            status: 200,
            body: {
              total_subscriptions: rows.length,
              page,
              total_pages: totalPages,
              subscriptions: items.map((t) => ({
                id: t.seq,
                state: t.subscriber.state === 'active' ? 'active' : 'cancelled',
                created_at: kitTimestamp(t.taggedAt),
                source: null,
                referrer: null,
                subscribable_id: tag.id,
                subscribable_type: 'tag',
                subscriber: render(t.subscriber),
              })),
            },
          };
        },
      },
      {
        method: 'GET',
        pattern: '/v3/custom_fields',
        handle: () => ({ status: 200, body: { custom_fields: store.listCustomFields() } }),
      },
      {
        method: 'POST',
        pattern: '/v3/custom_fields',
        handle: ({ body }) => {
          if (typeof body.label !== 'string') throw unprocessable('Label is required');
          return { status: 201, body: store.createCustomField(body.label) };
        },
      },
    ];
  }
}

function pageOf<T>(rows: readonly T[], query: URLSearchParams): { page: number; totalPages: number; items: T[] } {
  const raw = query.get('page');
  const page = raw && /^\d+$/.test(raw) ? Math.max(1, Number(raw)) : 1;
  const totalPages = Math.max(1, Math.ceil(rows.length / V3_PAGE_SIZE));
  return { page, totalPages, items: rows.slice((page - 1) * V3_PAGE_SIZE, page * V3_PAGE_SIZE) };
}

function dayParam(query: URLSearchParams, name: string): number | undefined {
  const raw = query.get(name);
  if (!raw) return undefined;
  const at = Date.parse(raw.length === 10 ? `${raw}T00:00:00Z` : raw);
  if (Number.isNaN(at)) throw new Rejection(400, `${name} is not a date`);
  return at;
}
