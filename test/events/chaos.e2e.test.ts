import { hasRedisServer } from '../support/privateRedis';
import { EventsChaos, FAULTS, type FaultReport } from './eventsChaos';

// Security events under chaos (eventsChaos.ts): two server processes on a redis-server of the test's own, Kit's
// webhooks before and after its API answers, an IdP pushing users through both replicas with retries, people
// unsubscribing in Kit, users deactivated on one replica during the fault and read on the other right after, and in turn a Redis pause, a Redis lost and restarted empty, a FLUSHALL and a replica
// killed. For each fault every change reaches each receiver as exactly one verified SET saying what happened.

const USERS = 8;
const KIT_UNSUBSCRIBES = 3;
const CROSS_READS = 2;

(hasRedisServer ? describe : describe.skip)('security events under Redis and replica faults', () => {
  const chaos = new EventsChaos({
    usersPerFault: USERS,
    kitUnsubscribesPerFault: KIT_UNSUBSCRIBES,
    crossReadsPerFault: CROSS_READS,
    pauseSeconds: 15,
    deliveryTimeoutMs: 20_000,
  });

  beforeAll(() => chaos.start(), 120_000);
  afterAll(() => chaos.close(), 30_000);

  FAULTS.forEach((fault, index) => {
    it(`${fault}: one true, verified SET per change and receiver`, async () => {
      const report: FaultReport = await chaos.runFault(fault, index);
      const counts = { ...report, unsubscribeSeconds: undefined, examples: undefined };
      expect({ ...counts, examples: report.examples }).toEqual({
        ...counts,
        changes: USERS * 4 + KIT_UNSUBSCRIBES * 2 + CROSS_READS * 2,
        missing: 0,
        duplicatesNewJti: 0,
        falseSets: 0,
        unverified: 0,
        kitUnsubscribesDelivered: KIT_UNSUBSCRIBES * chaos.receivers.length,
        examples: [],
      });
    }, 150_000);
  });
});
