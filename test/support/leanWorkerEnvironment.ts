import v8 from 'node:v8';
import vm from 'node:vm';
import { TestEnvironment } from 'jest-environment-node';

// The test environment of both tiers: Node's, plus a worker that stays lean between test files.
//
// Why: Jest gives a worker 500 ms to exit once the run is over, then kills it and prints "A worker process has
// failed to exit gracefully". The kernel tears a process down in time proportional to its memory, and a
// worker carrying the garbage of earlier test files (400-550 MB) took longer than that on a CPU-starved
// machine (bench/stress-test-loop.sh), with nothing of the tests left open: the workers had run their exit
// within a millisecond of being told to end. So after each test file a worker grown past 250 MB collects its
// garbage: twice, since the first full collection leaves the freed pages to the concurrent sweeper and the
// second returns them to the system. Cheap (~100 ms, only after heavy files), and whichever file a worker
// runs last, it ends lean.

const LEAN_RSS_BYTES = 250 * 1024 * 1024;

v8.setFlagsFromString('--expose-gc');
const collectGarbage = vm.runInNewContext('gc') as () => void;

export default class LeanWorkerEnvironment extends TestEnvironment {
  override async teardown(): Promise<void> {
    await super.teardown();
    if (process.memoryUsage.rss() > LEAN_RSS_BYTES) {
      collectGarbage();
      collectGarbage();
    }
  }
}
