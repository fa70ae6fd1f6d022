import v8 from 'node:v8';
import vm from 'node:vm';
import { SandboxStore } from '@convertkit-scim/kit-sandbox';

// Seeding the sandbox store (what `POST /__sandbox/seed` and the reconcile benchmark do first): 100,000
// subscribers with a custom field, tagged across 50 tags, in one synchronous pass. A figure, not a test: the
// suite asserts what seeding produces (packages/kit-sandbox/test/store.test.ts); how fast it runs depends on the machine
// and on what else runs on it, so it is measured here. BENCH_SEED_SUBSCRIBERS / BENCH_SEED_TAGS scale it.

const SUBSCRIBERS = Number(process.env.BENCH_SEED_SUBSCRIBERS ?? 100_000);
const TAGS = Number(process.env.BENCH_SEED_TAGS ?? 50);
const ROUNDS = Number(process.env.BENCH_SEED_ROUNDS ?? 3);

const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MB`;

// A full GC before each heap reading, so the figure is what the seeded store retains, not garbage in between.
v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

function seedOnce(): { ms: number; heapBytes: number } {
  gc();
  const heapBefore = process.memoryUsage().heapUsed;
  const started = process.hrtime.bigint();
  const store = new SandboxStore(Date.now);
  store.createCustomField('Department');
  const seeded = store.seedSubscribers(SUBSCRIBERS, { fields: { Department: 'Dept {id}' } });
  const tags = Array.from({ length: TAGS }, (_, i) => store.createTag(`Team ${i}`));
  tags.forEach((tag, i) => {
    store.tagSubscribers(
      tag.id,
      seeded.ids.filter((_, j) => j % TAGS === i),
    );
  });
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  gc();
  const heapBytes = process.memoryUsage().heapUsed - heapBefore;
  const counts = store.counts();
  if (counts.subscribers !== SUBSCRIBERS || counts.taggings !== SUBSCRIBERS) {
    throw new Error(`seeded ${JSON.stringify(counts)}, expected ${SUBSCRIBERS} subscribers and taggings`);
  }
  return { ms, heapBytes };
}

export async function run(): Promise<void> {
  console.log(`seeding ${SUBSCRIBERS.toLocaleString('en')} subscribers in ${TAGS} tags, ${ROUNDS} rounds`);
  const rounds: Array<{ ms: number; heapBytes: number }> = [];
  for (let i = 0; i < ROUNDS; i++) {
    const r = seedOnce();
    rounds.push(r);
    console.log(`  round ${i + 1}: ${r.ms.toFixed(0)} ms, store retains ${mb(r.heapBytes)}`);
  }
  const times = rounds.map((r) => r.ms).sort((a, b) => a - b);
  console.log(
    `seed: median ${times[Math.floor(times.length / 2)].toFixed(0)} ms (best ${times[0].toFixed(0)} ms), ` +
      `store retains ${mb(Math.max(...rounds.map((r) => r.heapBytes)))}, peak RSS ${mb(process.memoryUsage().rss)}`,
  );
}
