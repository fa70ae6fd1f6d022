import { randomBytes } from 'node:crypto';
import os from 'node:os';

/** This process: host and pid, as the page's header shows it. */
export const THIS_REPLICA = { host: os.hostname(), pid: process.pid };

/**
 * A name for this replica in the fleet's rows: host and pid, and a few random characters, because two servers
 * may run in one process (tests do) and containers often share a pid (1) and sometimes a host name.
 */
export function replicaName(): string {
  return `${THIS_REPLICA.host} · ${THIS_REPLICA.pid} · ${randomBytes(2).toString('hex')}`;
}
