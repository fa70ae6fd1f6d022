import { normaliseEmail } from '../email';
import { SortedArraySequence } from '../keyedSequence';
import { type CursorCodec, idCursors, pageOf, parsePageParams } from '../pagination';
import type { Tagging, TagRecord } from '../records';
import { notFound, unprocessable } from '../rejection';
import { taggedSubscriberJson, tagJson } from '../render';
import type { Exchange, Route } from '../router';
import { inRange, parseRange, parseStatus } from '../subscriberFilters';
import { idParam, type RouteContext } from './context';

/** A tag's subscribers page in tagging order; the cursor carries `[tagged_at, subscriber id, tagging seq]`. */
const taggingCursors: CursorCodec<Tagging> = {
  cursorOf: (t, seq) => [t.taggedAt, t.subscriber.id, seq],
  keyOf: (c) => (c.length === 3 && typeof c[2] === 'number' ? c[2] : null),
};

export function tagRoutes({ store }: RouteContext): Route[] {
  const tagOf = (x: Exchange, name: string): TagRecord => {
    const tag = store.tagRecord(idParam(x, name));
    if (!tag) throw notFound();
    return tag;
  };
  /** Kit's "tag by email" endpoints name the subscriber in the body. */
  const subscriberIdByEmail = (x: Exchange, action: 'tag subscriber' | 'remove tag from subscriber'): number => {
    const raw = x.body.email_address;
    if (typeof raw !== 'string' || raw.trim() === '') {
      throw unprocessable(`Either subscriber id or email address is required to ${action}`);
    }
    const s = store.recordByEmail(normaliseEmail(raw) ?? raw);
    if (!s) throw notFound();
    return s.id;
  };
  const tagSubscriber = (tag: TagRecord, subscriberId: number) => {
    const { tagging, created } = store.tagSubscriber(tag.id, subscriberId);
    return {
      status: created ? 201 : 200,
      body: { subscriber: taggedSubscriberJson(tagging, store.customFields.all()) },
    };
  };
  const untag = (tag: TagRecord, subscriberId: number) => {
    if (!store.untagSubscriber(tag.id, subscriberId)) throw notFound();
    return { status: 204 };
  };

  return [
    {
      method: 'GET',
      pattern: '/v4/tags',
      handle: ({ query }) => {
        const page = pageOf({
          sequence: new SortedArraySequence(store.tagRecords(), (t) => t.id),
          codec: idCursors,
          order: 'desc',
          params: parsePageParams(query),
          matches: () => true,
        });
        return { status: 200, body: { tags: page.items.map(tagJson), pagination: page.pagination } };
      },
    },
    {
      method: 'POST',
      pattern: '/v4/tags',
      handle: ({ body }) => ({ status: 201, body: { tag: tagJson(store.createTagRecord(body.name)) } }),
    },
    {
      method: 'PUT',
      pattern: '/v4/tags/:id',
      handle: (x) => ({ status: 200, body: { tag: tagJson(store.renameTag(idParam(x, 'id'), x.body.name)) } }),
    },
    {
      method: 'POST',
      pattern: '/v4/tags/:tag_id/subscribers',
      handle: (x) => {
        const tag = tagOf(x, 'tag_id');
        return tagSubscriber(tag, subscriberIdByEmail(x, 'tag subscriber'));
      },
    },
    {
      method: 'POST',
      pattern: '/v4/tags/:tag_id/subscribers/:id',
      handle: (x) => tagSubscriber(tagOf(x, 'tag_id'), idParam(x, 'id')),
    },
    {
      method: 'DELETE',
      pattern: '/v4/tags/:tag_id/subscribers/:id',
      handle: (x) => untag(tagOf(x, 'tag_id'), idParam(x, 'id')),
    },
    {
      method: 'DELETE',
      pattern: '/v4/tags/:tag_id/subscribers',
      handle: (x) => {
        const tag = tagOf(x, 'tag_id');
        return untag(tag, subscriberIdByEmail(x, 'remove tag from subscriber'));
      },
    },
    {
      method: 'GET',
      pattern: '/v4/tags/:tag_id/subscribers',
      handle: (x) => {
        const tag = tagOf(x, 'tag_id');
        const { query } = x;
        const params = parsePageParams(query);
        const status = parseStatus(query);
        const created = parseRange(query, 'created');
        const tagged = parseRange(query, 'tagged');
        const order = query.get('sort_order') === 'asc' ? 'asc' : 'desc';
        const page = pageOf({
          sequence: tag.members,
          codec: taggingCursors,
          order,
          params,
          matches: (t) =>
            (status === 'all' || t.subscriber.state === status) &&
            inRange(t.subscriber.createdAt, created) &&
            inRange(t.taggedAt, tagged),
          total: status === 'all' && !created && !tagged ? () => tag.members.size : undefined,
        });
        const fields = store.customFields.all();
        return {
          status: 200,
          body: { subscribers: page.items.map((t) => taggedSubscriberJson(t, fields)), pagination: page.pagination },
        };
      },
    },
  ];
}
