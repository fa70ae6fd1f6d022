import os from 'node:os';

/** This process as the status page names it: host and pid (two replicas may share a host). */
export const THIS_REPLICA = { host: os.hostname(), pid: process.pid };
