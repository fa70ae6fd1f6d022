import type { Logger } from 'pino';
import { currentScope } from '../platform/requestScope';
import type { ChangeJournal, SubscriberChange } from '../scim/journal/changeJournal';
import type { Outbox } from './outbox';
import {
  claimsOf,
  type GroupChangeNotice,
  groupClaimsOf,
  groupSubjectOf,
  type SetClaims,
  subjectOf,
} from './securityEvent';
import { jtiOf } from './eventIds';
import type { EventSigner } from './signer';

// Turns every change the journal records or learns of in this process (SCIM writes, Kit webhooks, the mirror's
// re-walks, re-reads) into one signed SET per receiver, queued in the outbox. Changes are signed one after the
// other (a promise chain), so the outbox holds them in the order the journal emitted them: per-subject order
// starts here.

export interface EventReceiver {
  /** Named in logs, metrics and the audit trail; never the token. */
  name: string;
  /** The `aud` of its SETs (RFC 8417 §2.2). */
  audience: string;
  /** Its credential for the poll endpoint (RFC 8936 §2.4: the transmitter authenticates the receiver). */
  token: string;
}

export interface PublisherOptions {
  issuer: string;
  receivers: EventReceiver[];
  signer: EventSigner;
  outbox: Outbox;
  logger: Logger;
  onQueued?: (receiver: string) => void;
}

export class EventPublisher {
  private chain: Promise<void> = Promise.resolve();
  private unsubscribe?: () => void;

  constructor(private readonly opts: PublisherOptions) {}

  /** Listens to a journal (once the SCIM services exist); a second attach replaces the first. */
  attach(journal: ChangeJournal): void {
    this.unsubscribe?.();
    this.unsubscribe = journal.subscribe((change) => this.publish(change));
  }

  detach(): void {
    this.unsubscribe?.();
    this.unsubscribe = undefined;
  }

  /** Queues the SETs of one change; never throws into the journal (a SET lost is logged, provisioning goes on). */
  publish(change: SubscriberChange): void {
    // Read now, synchronously: the request's scope tells a PUT from a PATCH (the journal says only "updated").
    const method = currentScope()?.method;
    const claims = claimsOf(change, this.opts.issuer, method);
    if (!claims) return;
    this.queue(claims, subjectOf(change));
  }

  /** Queues the SETs of one Group change made through SCIM (the journal holds subscribers only). */
  publishGroup(change: GroupChangeNotice): void {
    this.queue(groupClaimsOf(change, this.opts.issuer), groupSubjectOf(change));
  }

  /** One SET per receiver, on the one chain: the outbox keeps every subject's changes in the order made. */
  private queue(claims: Omit<SetClaims, 'jti'>, subject: string): void {
    this.chain = this.chain.then(async () => {
      // Before each batch: a replica whose shared key changed signs with the new one from this batch on.
      await this.opts.signer.converge();
      for (const r of this.opts.receivers) {
        try {
          // Derived from the change: announced again, it is the same SET to the receiver (eventIds.ts).
          const jti = jtiOf(claims.txn, r.audience);
          const jwt = await this.opts.signer.sign({ ...claims, jti }, r.audience);
          await this.opts.outbox.enqueue(r.name, { jti, subject, jwt });
          this.opts.onQueued?.(r.name);
        } catch (err) {
          this.opts.logger.error(
            { err: { message: (err as Error).message }, receiver: r.name, subject },
            'security event could not be signed or queued; lost',
          );
        }
      }
    });
  }

  /** Resolves once every change published so far is queued (tests, shutdown). */
  idle(): Promise<void> {
    return this.chain;
  }
}
