import { normaliseEmail } from '../email';
import { SortedArraySequence } from '../keyedSequence';
import { type CursorCodec, idCursors, type Page, pageOf, parsePageParams } from '../pagination';
import type { SubscriberRecord } from '../records';
import { notFound, unprocessable } from '../rejection';
import { subscriberTagJson } from '../render';
import type { Route } from '../router';
import { isStatusOnly, parseRange, parseSortOrder, parseStatus, subscriberMatcher } from '../subscriberFilters';
import { idParam, type RouteContext } from './context';

/**
 * Cursors for the orders that follow a change log: `[time, id, seq]`. The time and id make the cursor readable;
 * the sequence number is what resumes the walk, so a subscriber changed mid-walk never shifts a page.
 */
export function changeCursors(timeOf: (s: SubscriberRecord) => number | null): CursorCodec<SubscriberRecord> {
  return {
    cursorOf: (s, seq) => [timeOf(s) ?? 0, s.id, seq],
    keyOf: (c) => (c.length === 3 && typeof c[2] === 'number' ? c[2] : null),
  };
}

export function subscriberRoutes({ store, unsubscribeAnswer }: RouteContext): Route[] {
  const subscriber = (s: SubscriberRecord) => ({ subscriber: store.render(s) });

  return [
    {
      method: 'GET',
      pattern: '/v4/subscribers',
      handle: ({ query }) => {
        const params = parsePageParams(query);
        const filter = {
          status: parseStatus(query),
          created: parseRange(query, 'created'),
          updated: parseRange(query, 'updated'),
        };
        const order = parseSortOrder(query);
        const sortField = query.get('sort_field') || 'id';
        if (!['id', 'updated_at', 'cancelled_at'].includes(sortField)) {
          throw unprocessable('The sort_field param must be id, updated_at or cancelled_at');
        }
        if (sortField === 'cancelled_at' && filter.status !== 'cancelled') {
          throw unprocessable('The status param must be `cancelled` if sort_field is `cancelled_at`');
        }
        const matches = subscriberMatcher(filter);
        const emailParam = query.get('email_address');
        let page: Page<SubscriberRecord>;
        if (emailParam !== null && emailParam !== '') {
          // Kit: "This is an exact match search", and emails compare case-insensitively.
          const found = store.recordByEmail(normaliseEmail(emailParam) ?? emailParam);
          const only = new SortedArraySequence(found ? [found] : [], (s) => s.id);
          page = pageOf({ sequence: only, codec: idCursors, order, params, matches });
        } else if (sortField === 'id') {
          page = pageOf({
            sequence: store.subscribersById(),
            codec: idCursors,
            order,
            params,
            matches,
            total: isStatusOnly(filter) ? () => store.countInState(filter.status) : undefined,
          });
        } else if (sortField === 'updated_at') {
          page = pageOf({
            sequence: store.subscribersByUpdate(),
            codec: changeCursors((s) => s.updatedAt),
            order,
            params,
            matches,
            total: isStatusOnly(filter) ? () => store.countInState(filter.status) : undefined,
          });
        } else {
          page = pageOf({
            sequence: store.subscribersByCancellation(),
            codec: changeCursors((s) => s.cancelledAt),
            order,
            params,
            matches,
          });
        }
        return {
          status: 200,
          body: { subscribers: page.items.map((s) => store.render(s)), pagination: page.pagination },
        };
      },
    },
    {
      method: 'POST',
      pattern: '/v4/subscribers',
      handle: ({ body }) => {
        const { record, created } = store.upsertSubscriber(body);
        return { status: created ? 201 : 200, body: subscriber(record) };
      },
    },
    {
      method: 'GET',
      pattern: '/v4/subscribers/:id',
      handle: (x) => {
        const s = store.subscriberRecord(idParam(x, 'id'));
        if (!s) throw notFound();
        return { status: 200, body: subscriber(s) };
      },
    },
    {
      method: 'PUT',
      pattern: '/v4/subscribers/:id',
      handle: (x) => ({ status: 200, body: subscriber(store.updateSubscriber(idParam(x, 'id'), x.body)) }),
    },
    {
      // Kit's v4 reference answers a bare 204 here, and so does the sandbox by default; `unsubscribeAnswer:
      // 'subscriber'` gives the 200 with the (now inactive) subscriber that the integration notes show.
      method: 'POST',
      pattern: '/v4/subscribers/:id/unsubscribe',
      handle: (x) => {
        const gone = store.unsubscribe(idParam(x, 'id'));
        return unsubscribeAnswer === 'subscriber' ? { status: 200, body: subscriber(gone) } : { status: 204 };
      },
    },
    {
      method: 'GET',
      pattern: '/v4/subscribers/:id/tags',
      handle: (x) => {
        const s = store.subscriberRecord(idParam(x, 'id'));
        if (!s) throw notFound();
        const params = parsePageParams(x.query);
        const taggings = store.taggingsOf(s);
        const page = pageOf({
          sequence: new SortedArraySequence(taggings, (t) => t.tagId),
          codec: idCursors,
          order: 'desc',
          params,
          matches: () => true,
        });
        return {
          status: 200,
          body: {
            tags: page.items.map((t) => subscriberTagJson(store.tagRecord(t.tagId)!, t)),
            pagination: page.pagination,
          },
        };
      },
    },
  ];
}
