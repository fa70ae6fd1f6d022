import { bulkTaggingAnswer } from '../answers';
import type { KitCaller, PlainRequest } from '../caller';
import { KitError } from '../errors';
import type { BulkFailure, BulkResult, CallOptions, TaggedSubscriber, Tagging } from '../types';

// Kit's bulk endpoints (docs/kit/api.md "Bulk"): synchronous up to 100 items per call, each answer listing the
// items that failed. Larger inputs are sent in chunks of 100.

export const BULK_CHUNK = 100;

export class Bulk {
  constructor(private readonly caller: KitCaller) {}

  /** POST /v4/bulk/tags/subscribers in synchronous chunks of 100: ceil(n/100) calls. */
  async tagSubscribers(taggings: Tagging[], opts?: CallOptions): Promise<BulkResult<TaggedSubscriber, Tagging>> {
    const result: BulkResult<TaggedSubscriber, Tagging> = { succeeded: [], failures: [] };
    for (const chunk of chunks(taggings, BULK_CHUNK)) {
      const answer = await this.chunk(
        {
          method: 'POST',
          endpoint: 'POST /v4/bulk/tags/subscribers',
          path: '/v4/bulk/tags/subscribers',
          body: { taggings: chunk },
          // A set of taggings, each idempotent.
          repeat: 'idempotent',
          queued: true,
          answer: bulkTaggingAnswer,
        },
        chunk,
        result,
        opts,
      );
      if (!answer) continue;
      result.succeeded.push(...answer.subscribers);
      for (const f of failuresOf(answer.failures)) result.failures.push(taggingFailure(f, chunk));
    }
    return result;
  }

  /**
   * One synchronous bulk call. A chunk Kit refuses as a whole (422, 404…) becomes a failure of each of its
   * items; auth, rate-limit and availability errors concern every chunk and are thrown.
   */
  private async chunk<TIn, TOut>(
    req: PlainRequest<TOut>,
    chunk: TIn[],
    result: { failures: BulkFailure<TIn>[] },
    opts?: CallOptions,
  ): Promise<TOut | undefined> {
    try {
      return await this.caller.data(req, opts);
    } catch (e) {
      if (
        e instanceof KitError &&
        e.status !== undefined &&
        e.status >= 400 &&
        e.status < 500 &&
        ![401, 403, 413, 429].includes(e.status)
      ) {
        for (const item of chunk) result.failures.push({ item, errors: e.errors.length > 0 ? e.errors : [e.message] });
        return undefined;
      }
      throw e;
    }
  }
}

/** One entry of a bulk answer's `failures`; Kit documents them as `[any]`, so every field is optional. */
interface KitBulkFailure {
  errors?: unknown;
  tagging?: { tag_id?: unknown; subscriber_id?: unknown };
  tag_id?: unknown;
  subscriber_id?: unknown;
  subscriber?: { id?: unknown; email_address?: unknown; first_name?: unknown };
}

function failuresOf(failures: unknown[]): KitBulkFailure[] {
  return failures.filter((f): f is KitBulkFailure => f !== null && typeof f === 'object');
}

function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

function stringList(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((e): e is string => typeof e === 'string') : [];
}

/** Accepts a tagging, its ids, or a subscriber with its id. */
function taggingFailure(f: KitBulkFailure, chunk: Tagging[]): BulkFailure<Tagging> {
  const t = f.tagging ?? f;
  const tagId = Number(t.tag_id);
  const subscriberId = Number(t.subscriber_id ?? f.subscriber?.id);
  const item = chunk.find((c) => c.tag_id === tagId && c.subscriber_id === subscriberId) ??
    chunk.find((c) => c.subscriber_id === subscriberId) ?? { tag_id: tagId, subscriber_id: subscriberId };
  return { item, errors: stringList(f.errors) };
}
