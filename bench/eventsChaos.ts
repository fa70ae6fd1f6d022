import { EventsChaos, FAULTS, percentile } from '../test/events/eventsChaos';

// Security events under chaos (test/events/eventsChaos.ts): per fault, what two push receivers got for an IdP's
// push and for unsubscribes made in Kit meanwhile, and the seconds from each Kit-side unsubscribe to its SET.
// BENCH_CHAOS_USERS users per fault (default 20); the Redis pause is BENCH_REDIS_PAUSE_SECONDS (default 15);
// BENCH_CHAOS_CROSS_READS users per fault deactivated on one replica during the fault and read on the other
// right after (default 2).

export async function run(): Promise<void> {
  const chaos = new EventsChaos({
    usersPerFault: Number(process.env.BENCH_CHAOS_USERS ?? 20),
    kitUnsubscribesPerFault: 5,
    crossReadsPerFault: Number(process.env.BENCH_CHAOS_CROSS_READS ?? 2),
    pauseSeconds: Number(process.env.BENCH_REDIS_PAUSE_SECONDS ?? 15),
    deliveryTimeoutMs: 30_000,
  });
  await chaos.start();
  const rows: string[] = [];
  const notes: string[] = [];
  try {
    for (const [i, fault] of FAULTS.entries()) {
      let line: string;
      try {
        const r = await chaos.runFault(fault, i);
        const s = r.unsubscribeSeconds;
        line = [
          fault,
          r.changes,
          r.missing,
          r.duplicatesNewJti,
          r.falseSets,
          r.unverified,
          `${r.kitUnsubscribesDelivered}/${r.kitUnsubscribes * chaos.receivers.length}`,
          s.length ? percentile(s, 50).toFixed(2) : '–',
          s.length ? Math.max(...s).toFixed(2) : '–',
        ].join(' | ');
        notes.push(...r.examples.map((e) => `${fault}: ${e}`));
      } catch (e) {
        line = `${fault} | run failed: ${(e as Error).message.split('\n')[0]} | | | | | | |`;
      }
      rows.push(`| ${line} |`);
    }
  } finally {
    await chaos.close();
  }
  console.log(
    '| fault | changes | missing | duplicates with a new jti | false SETs | failed verification | Kit-side unsubscribes delivered | unsubscribe → SET p50 (s) | max (s) |',
  );
  console.log('|---|---|---|---|---|---|---|---|---|');
  for (const r of rows) console.log(r);
  for (const n of notes) console.log(`- ${n}`);
}
