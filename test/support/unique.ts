import { randomBytes } from 'node:crypto';

let seq = 0;

/**
 * A name part no other test uses: the worker's pid and a counter (unique within the run), plus a random part
 * for what outlives a run (keys in a Redis other runs and engineers share). Not the time: two calls in one
 * millisecond would collide, and tests read no clock they do not hand to the code under test.
 */
export const unique = (): string => `${process.pid}-${randomBytes(3).toString('hex')}-${++seq}`;
