import { z } from 'zod';
import type { RedisEndpoint, RedisTopology } from '../platform/redisTopology';

// Which Redis the replicas share, from the process's environment: a plain REDIS_URL (as always), sentinels
// (REDIS_SENTINELS + REDIS_SENTINEL_NAME), or a cluster (REDIS_CLUSTER_NODES, or REDIS_URL=redis+cluster://...).
// One mode at a time; a problem names its variable, never a value (passwords live here).

type Env = Record<string, string | undefined>;

export interface RedisSettingsProblem {
  variable: string;
  message: string;
}

const trimmed = (v: string | undefined): string | undefined =>
  v === undefined || v.trim() === '' ? undefined : v.trim();

const ENDPOINT = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?):(\d{1,5})$/;

const endpointSchema = z.string().transform((text, ctx): RedisEndpoint => {
  const m = ENDPOINT.exec(text.trim());
  const port = m ? Number(m[2]) : 0;
  if (!m || port < 1 || port > 65535) {
    ctx.addIssue({ code: 'custom', message: `"${text.trim()}" is not host:port` });
    return z.NEVER;
  }
  return { host: m[1]!.replace(/^\[|\]$/g, ''), port };
});

const endpointListSchema = z
  .string()
  .transform((v) =>
    v
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean),
  )
  .pipe(z.array(endpointSchema).min(1, 'lists no host:port'));

const CLUSTER_URL = /^(rediss?)\+cluster:\/\/(?:([^:@/]*)(?::([^@/]*))?@)?([^/?#]+)\/?$/;

function problemsOf(variable: string, error: z.ZodError): RedisSettingsProblem[] {
  return error.issues.map((i) => ({ variable, message: i.message }));
}

export function redisTopologyOf(
  env: Env,
): { ok: true; topology?: RedisTopology } | { ok: false; problems: RedisSettingsProblem[] } {
  const url = trimmed(env.REDIS_URL);
  const sentinels = trimmed(env.REDIS_SENTINELS);
  const sentinelName = trimmed(env.REDIS_SENTINEL_NAME);
  const clusterNodes = trimmed(env.REDIS_CLUSTER_NODES);
  const username = trimmed(env.REDIS_USERNAME);
  const password = trimmed(env.REDIS_PASSWORD);
  const tlsSetting = trimmed(env.REDIS_TLS);
  const problems: RedisSettingsProblem[] = [];

  const clusterUrl = url ? CLUSTER_URL.exec(url) : null;
  const named = [
    url && !clusterUrl ? 'REDIS_URL' : undefined,
    sentinels || sentinelName ? 'REDIS_SENTINELS' : undefined,
    clusterNodes || clusterUrl ? (clusterNodes ? 'REDIS_CLUSTER_NODES' : 'REDIS_URL (redis+cluster://)') : undefined,
  ].filter((n): n is string => n !== undefined);
  if (named.length > 1) {
    return {
      ok: false,
      problems: [
        { variable: named[0]!, message: `names a Redis, and so does ${named.slice(1).join(' and ')}: set only one` },
      ],
    };
  }
  if (tlsSetting !== undefined && !/^(on|off)$/.test(tlsSetting))
    problems.push({ variable: 'REDIS_TLS', message: 'must be on or off' });
  const tls = tlsSetting === 'on';
  if (clusterNodes && clusterUrl)
    problems.push({ variable: 'REDIS_CLUSTER_NODES', message: 'and REDIS_URL=redis+cluster:// both name a cluster' });

  if (url && !clusterUrl) {
    if (!/^rediss?:\/\//.test(url)) {
      problems.push({ variable: 'REDIS_URL', message: 'must start with redis://, rediss:// or redis+cluster://' });
    } else if (tlsSetting === 'on' && url.startsWith('redis://')) {
      problems.push({ variable: 'REDIS_TLS', message: 'is on, yet REDIS_URL says redis:// (use rediss:// for TLS)' });
    }
    if (problems.length > 0) return { ok: false, problems };
    return { ok: true, topology: { mode: 'standalone', url: withAccess(url, username, password) } };
  }

  if (sentinels || sentinelName) {
    if (!sentinels)
      problems.push({ variable: 'REDIS_SENTINELS', message: 'is needed with REDIS_SENTINEL_NAME (host:port list)' });
    if (!sentinelName)
      problems.push({ variable: 'REDIS_SENTINEL_NAME', message: 'is needed with REDIS_SENTINELS (the primary name)' });
    const parsed = sentinels ? endpointListSchema.safeParse(sentinels) : undefined;
    if (parsed && !parsed.success) problems.push(...problemsOf('REDIS_SENTINELS', parsed.error));
    if (problems.length > 0 || !parsed?.success || !sentinelName) return { ok: false, problems };
    return {
      ok: true,
      topology: {
        mode: 'sentinel',
        sentinels: parsed.data,
        name: sentinelName,
        sentinelUsername: trimmed(env.REDIS_SENTINEL_USERNAME),
        sentinelPassword: trimmed(env.REDIS_SENTINEL_PASSWORD),
        username,
        password,
        tls,
      },
    };
  }

  if (clusterNodes || clusterUrl) {
    const list = clusterNodes ?? clusterUrl![4]!;
    const variable = clusterNodes ? 'REDIS_CLUSTER_NODES' : 'REDIS_URL';
    const parsed = endpointListSchema.safeParse(list);
    if (!parsed.success) problems.push(...problemsOf(variable, parsed.error));
    if (problems.length > 0 || !parsed.success) return { ok: false, problems };
    return {
      ok: true,
      topology: {
        mode: 'cluster',
        nodes: parsed.data,
        username: username ?? (clusterUrl?.[2] ? decodeURIComponent(clusterUrl[2]) : undefined),
        password: password ?? (clusterUrl?.[3] ? decodeURIComponent(clusterUrl[3]) : undefined),
        tls: tls || clusterUrl?.[1] === 'rediss',
      },
    };
  }
  if (problems.length > 0) return { ok: false, problems };
  return { ok: true };
}

/** REDIS_USERNAME / REDIS_PASSWORD beside a REDIS_URL: kept out of the URL in the environment, put in here. */
function withAccess(url: string, username?: string, password?: string): string {
  if (!username && !password) return url;
  const u = new URL(url);
  if (username) u.username = encodeURIComponent(username);
  if (password) u.password = encodeURIComponent(password);
  return u.toString();
}
