import type { RedisTopologyState } from '../platform/redisTopology';
import escapeHtml from 'escape-html';
import type { ReadinessReport } from '../platform/readiness';
import type { LimiterCounts } from '../kit/limiter';
import { PRIORITIES } from '../kit/priorityLanes';
import type { BookedMinute } from '../kit/slots';
import type { ReplicaRow } from './fleet';
import type { OperationSummary, StatusSnapshot } from './statusBoard';

// Server-rendered HTML for the status page: no scripts, no front-end build; charts are inline SVG. Every value
// that reaches the page passes through escapeHtml (via `h`), the numbers included, so nothing a client sent
// (a token name is configuration, but a resource id comes from a request) can become markup.

export const REFRESH_SECONDS = 15;

const h = (v: unknown): string => escapeHtml(String(v));

// Narrow screens (a phone is ~390 px wide): cards are at most the page's width, long words and ids wrap, and a
// table wider than its card scrolls inside the card, so the page itself never scrolls sideways.
const STYLE = `
*,*::before,*::after{box-sizing:border-box}
body{font:14px/1.4 system-ui,sans-serif;margin:0;color:#1d2330;background:#f5f6f8;overflow-wrap:anywhere}
header{background:#1d2330;color:#fff;padding:12px 24px;display:flex;gap:24px;align-items:center;flex-wrap:wrap}
header h1{font-size:18px;margin:0}header .replica{background:#f2c94c;color:#1d2330;padding:2px 8px;border-radius:4px;font-weight:600}
header .tenant{background:#fff;color:#1d2330;padding:2px 8px;border-radius:4px;font-weight:600}
header form{margin-left:auto}main{padding:16px 24px;display:grid;gap:16px;grid-template-columns:repeat(auto-fit,minmax(min(100%,420px),1fr))}
section{background:#fff;border-radius:6px;padding:12px 16px;box-shadow:0 1px 2px rgba(0,0,0,.08);min-width:0}
.scroll{overflow-x:auto;max-width:100%}.scroll table{overflow-wrap:normal}
.deprovision{background:#fde8e8;color:#8a1c1c;padding:0 6px;border-radius:3px;font-size:12px;font-weight:600}
.scim-error{display:block;font-size:12px;color:#6b7280;overflow-wrap:anywhere}
ul.tenants{list-style:none;padding:0}ul.tenants li{margin:6px 0}ul.tenants a{font-weight:600}
section.wide{grid-column:1/-1}h2{font-size:15px;margin:0 0 8px}
table{border-collapse:collapse;width:100%}td,th{text-align:left;padding:3px 8px;border-bottom:1px solid #eceef2;font-size:13px}
.ok{color:#1e7d32}.fail{color:#c62828;font-weight:600}.muted{color:#6b7280}.num{text-align:right;font-variant-numeric:tabular-nums}
.legend span{display:inline-block;margin-right:12px}.sw{display:inline-block;width:10px;height:10px;margin-right:4px;vertical-align:middle}
form.login{max-width:420px;width:calc(100% - 24px);margin:48px auto;background:#fff;padding:24px;border-radius:6px;box-shadow:0 1px 2px rgba(0,0,0,.08)}
form.login input[type=password]{width:100%;padding:6px;margin:8px 0 12px;box-sizing:border-box}
.error{color:#c62828}button{padding:6px 14px}
.sandbox-banner{background:#c62828;color:#fff;margin:0;padding:10px 24px;font-weight:600;letter-spacing:.02em}
@media (max-width:600px){header{padding:10px 12px;gap:8px}main{padding:12px 8px;gap:12px}section{padding:10px}
.sandbox-banner{padding:10px 12px}header form{margin-left:0}}`;

const COLOURS: Record<string, string> = {
  retry: '#e07a5f',
  interactive: '#3d5a80',
  background: '#98c1d9',
  webhook: '#b8b8d1',
};

/** Above everything else: an operator must never take the sandbox for the real Kit account. */
const SANDBOX_BANNER =
  '<p class="sandbox-banner" role="alert">SANDBOX: this tenant runs on the built-in in-memory Kit sandbox, not on Kit. ' +
  'Nothing provisioned here reaches Kit, and it is gone when the server restarts.</p>\n';

function page(title: string, body: string, opts: { refresh?: boolean; sandbox?: boolean } = {}): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1">
${opts.refresh ? `<meta http-equiv="refresh" content="${REFRESH_SECONDS}">` : ''}
<meta name="robots" content="noindex">
<title>${h(title)}</title><style>${STYLE}</style></head>
<body>${opts.sandbox ? SANDBOX_BANNER : ''}${body}</body></html>`;
}

/** `base`: where the page is mounted (`/status`, or `/tenants/{id}/status` for one tenant of several). */
export function renderLogin(
  opts: { error?: string; base?: string; tenant?: string; sandbox?: boolean; chooser?: boolean } = {},
): string {
  return page(
    'convertkit-scim status: sign in',
    `<form class="login" method="post" action="${h(opts.base ?? '/status')}/login">
<h1>convertkit-scim status${opts.tenant ? ` <span class="tenant-name">· tenant ${h(opts.tenant)}</span>` : ''}</h1>
${opts.chooser ? '<p>This server serves several tenants. Sign in to see the status pages your token may open.</p>' : ''}
<p class="muted">Sign in with a bearer token this server accepts (read-only is enough). The token is exchanged
for a short-lived session cookie and is not stored.</p>
${opts.error ? `<p class="error" role="alert">${h(opts.error)}</p>` : ''}
<label for="token">Bearer token</label>
<input id="token" name="token" type="password" autocomplete="off" required maxlength="4096">
<button type="submit">Sign in</button>
</form>`,
    { sandbox: opts.sandbox },
  );
}

/** The fleet's figures from the shared store (Redis); absent without Redis or while it cannot be read. */
export interface FleetView {
  /** Slots booked per minute by every replica on this Kit credential, oldest first. */
  minutes: BookedMinute[];
  replicas: ReplicaRow[];
}

export interface StatusView {
  /** Where the page is mounted; `/status` unless told. */
  base?: string;
  /** The tenant's id, on a server with a tenants file. */
  tenant?: string;
  snapshot: StatusSnapshot;
  readiness: ReadinessReport;
  limiter: LimiterCounts & { shared: boolean; spacingMs: number };
  /** Calls Kit allows per minute for this credential (KIT_RATE_LIMIT_PER_MINUTE over KIT_RATE_WINDOW_MS). */
  budgetPerMinute: number;
  replica: { host: string; pid: number };
  /** This replica's name in the fleet's rows. */
  replicaName?: string;
  sharedLimiterConfigured: boolean;
  fleet?: FleetView;
  redis?: RedisTopologyState;
  signedInAs: string;
}

type ChartMinute = { startsAt: number; calls: Partial<Record<string, number>> };

const callsIn = (b: ChartMinute) => Object.values(b.calls).reduce<number>((sum, n) => sum + (n ?? 0), 0);
const time = (ms: number) => new Date(ms).toISOString().slice(11, 19);

/** The lane of the fleet chart: the shared book counts calls, not the replica's lanes they left from. */
const FLEET_LANE = 'all replicas';

/** Stacked bars per minute (by limiter lane) against the budget line. */
export function budgetChart(
  minutes: ChartMinute[],
  budgetPerMinute: number,
  lanes: readonly string[] = PRIORITIES,
): string {
  const width = 720;
  const height = 180;
  const left = 40;
  const bottom = 20;
  const plotW = width - left - 8;
  const plotH = height - bottom - 10;
  const peak = Math.max(budgetPerMinute, ...minutes.map(callsIn), 1);
  const scale = plotH / (peak * 1.1);
  const barW = plotW / minutes.length;
  const y = (v: number) => 10 + plotH - v * scale;
  const bars = minutes
    .map((b, i) => {
      let top = 10 + plotH;
      return lanes
        .map((p) => {
          const n = b.calls[p] ?? 0;
          if (n === 0) return '';
          // At least a pixel, so a minute with a few calls against a large budget still shows.
          const hgt = Math.max(1, n * scale);
          top -= hgt;
          return `<rect class="kit-calls" data-priority="${h(p)}" data-calls="${h(n)}" x="${(left + i * barW + 1).toFixed(1)}" y="${top.toFixed(1)}" width="${Math.max(1, barW - 2).toFixed(1)}" height="${hgt.toFixed(1)}" fill="${COLOURS[p] ?? COLOURS.interactive}"><title>${h(time(b.startsAt))} ${h(p)}: ${h(n)} calls</title></rect>`;
        })
        .join('');
    })
    .join('');
  const budgetY = y(budgetPerMinute).toFixed(1);
  return `<svg class="budget-chart" role="img" aria-label="Kit calls per minute over the last hour against the budget" viewBox="0 0 ${width} ${height}" width="100%" preserveAspectRatio="xMinYMin meet">
<line x1="${left}" y1="${10 + plotH}" x2="${width - 8}" y2="${10 + plotH}" stroke="#9aa1ad"/>
<text x="${left - 4}" y="${budgetY}" text-anchor="end" font-size="10" dy="3">${h(budgetPerMinute)}</text>
<text x="${left - 4}" y="${10 + plotH}" text-anchor="end" font-size="10">0</text>
${bars}
<line class="budget" x1="${left}" y1="${budgetY}" x2="${width - 8}" y2="${budgetY}" stroke="#c62828" stroke-dasharray="4 3"><title>budget: ${h(budgetPerMinute)} calls per minute</title></line>
<text x="${left}" y="${height - 4}" font-size="10">${h(time(minutes[0].startsAt))}</text>
<text x="${width - 8}" y="${height - 4}" font-size="10" text-anchor="end">${h(time(minutes[minutes.length - 1].startsAt))} (now, UTC)</text>
</svg>
<div class="legend">${lanes.map((p) => `<span><i class="sw" style="background:${COLOURS[p] ?? COLOURS.interactive}"></i>${h(p)}</span>`).join('')}<span><i class="sw" style="background:#c62828"></i>budget per minute</span></div>`;
}

const scroll = (table: string) => `<div class="scroll">${table}</div>`;

function outcomeCell(o: OperationSummary): string {
  if (o.outcome === 'success') return `<td class="ok">${h(o.outcome)} (${h(o.status)})</td>`;
  const error =
    o.scimType || o.errorDetail
      ? `<span class="scim-error">${o.scimType ? `<code class="scim-type">${h(o.scimType)}</code> ` : ''}${h(o.errorDetail ?? '')}</span>`
      : '';
  return `<td class="fail">${h(o.outcome)} (${h(o.status)})${error}</td>`;
}

function operationsTable(ops: OperationSummary[]): string {
  if (ops.length === 0) return '<p class="muted">No provisioning operation since this replica started.</p>';
  const rows = ops
    .map((o) => {
      const notes = [
        o.deprovisioned ? `<span class="deprovision">deprovisioned (${h(o.deprovisioned)})</span>` : '',
        o.reactivationRefused ? 'reactivation refused' : '',
        o.skippedMembers ? `${h(o.skippedMembers)} members skipped` : '',
      ].filter(Boolean);
      return `<tr class="operation${o.deprovisioned ? ' deprovisioned' : ''}"><td>${h(o.at.slice(11, 19))}</td><td>${h(o.actor)}</td><td>${h(o.operation)}</td><td>${h(o.resourceType)}</td><td class="resource-id">${h(o.resourceId ?? '–')}</td>${outcomeCell(o)}<td class="num">${h(o.kitCalls)}${o.failedKitCalls ? ` <span class="fail">(${h(o.failedKitCalls)} failed)</span>` : ''}</td><td class="notes">${notes.join('; ')}</td></tr>`;
    })
    .join('');
  return scroll(
    `<table class="operations"><thead><tr><th>time (UTC)</th><th>who</th><th>what</th><th>type</th><th>SCIM id</th><th>outcome</th><th class="num">Kit calls</th><th>notes</th></tr></thead><tbody>${rows}</tbody></table>`,
  );
}

function readinessTable(r: ReadinessReport): string {
  const rows = Object.entries(r.checks)
    .map(
      ([name, c]) =>
        `<tr><td>${h(name)}</td><td class="${c.ok ? 'ok' : 'fail'}">${c.ok ? 'ok' : 'failing'}</td><td>${h(c.detail ?? '')}</td><td class="muted">since ${h(c.since)}</td></tr>`,
    )
    .join('');
  return `<p class="${r.status === 'ok' ? 'ok' : 'fail'}">${r.status === 'ok' ? 'Ready' : 'Not ready'}${r.shuttingDown ? ' (shutting down)' : ''}</p>${scroll(`<table>${rows}</table>`)}`;
}

function ago(now: number, then: number): string {
  const s = Math.max(0, Math.round((now - then) / 1000));
  return s < 1 ? 'now' : `${s} s ago`;
}

function replicasTable(rows: ReplicaRow[], now: number, self: string | undefined): string {
  if (rows.length === 0) return '<p class="muted">No replica has published its figures yet.</p>';
  const body = rows
    .map(
      (r) =>
        `<tr class="replica-row" data-replica="${h(r.replica)}"><td>${h(r.replica)}${r.replica === self ? ' <span class="muted">(this page)</span>' : ''}</td><td class="num queued">${h(r.queued)}</td><td class="num waits">${h(r.waits)} (mean ${h(r.meanWaitMs)} ms, max ${h(r.maxWaitMs)} ms)</td><td class="num rate-limited">${h(r.rateLimited)}</td><td class="${r.ready ? 'ok' : 'fail'}">${r.ready ? 'ready' : 'not ready'}${r.shared ? '' : ' · fallback budget'}</td><td class="last-seen">${h(ago(now, r.lastSeen))}</td></tr>`,
    )
    .join('');
  return scroll(
    `<table class="replicas"><thead><tr><th>replica</th><th class="num">queued</th><th class="num">calls sent, last hour (wait for a slot)</th><th class="num">429s, last hour</th><th>readiness</th><th>last seen</th></tr></thead><tbody>${body}</tbody></table>`,
  );
}

function fleetSection(v: StatusView): string {
  const self = v.replicaName;
  if (!v.fleet) {
    const why = v.sharedLimiterConfigured
      ? 'Redis cannot be read right now, so this page shows this replica only.'
      : 'Without REDIS_URL there is no shared store: this page shows this replica only.';
    return `<section class="wide" id="fleet"><h2>Replicas</h2><p class="this-replica-only">${h(why)}</p></section>`;
  }
  const { minutes, replicas } = v.fleet;
  const chart = minutes.map((m) => ({ startsAt: m.startsAt, calls: { [FLEET_LANE]: m.booked } }));
  const hour = minutes.reduce((n, m) => n + m.booked, 0);
  const busiest = Math.max(0, ...minutes.map((m) => m.booked));
  return `<section class="wide" id="fleet-budget"><h2>Kit calls per minute for this Kit credential, all replicas, last hour, against the budget (${h(v.budgetPerMinute)} per minute)</h2>
${budgetChart(chart, v.budgetPerMinute, [FLEET_LANE])}
<p><span class="fleet-calls">${h(hour)}</span> calls booked by all replicas in the last hour; busiest minute ${h(busiest)} (${h(Math.round((busiest / v.budgetPerMinute) * 100))} % of the budget). Counted once, where the shared limiter books them.</p></section>
<section class="wide" id="fleet"><h2>Replicas (${h(replicas.length)})</h2>${replicasTable(replicas, v.snapshot.now, self)}
<p class="muted">Each replica publishes its row every few seconds; one that stops keeps its last row, ageing, for a minute.</p></section>`;
}

export function renderStatus(v: StatusView): string {
  const { snapshot: s, limiter: l } = v;
  const hour = s.minutes.reduce(
    (acc, b) => ({
      calls: acc.calls + callsIn(b),
      rateLimited: acc.rateLimited + b.rateLimited,
      retries: acc.retries + b.retries,
      transportErrors: acc.transportErrors + b.transportErrors,
      waits: acc.waits + b.waits,
      waitMs: acc.waitMs + b.totalWaitMs,
      maxWaitMs: Math.max(acc.maxWaitMs, b.maxWaitMs),
      peakQueue: Math.max(acc.peakQueue, b.peakQueueDepth),
    }),
    { calls: 0, rateLimited: 0, retries: 0, transportErrors: 0, waits: 0, waitMs: 0, maxWaitMs: 0, peakQueue: 0 },
  );
  const busiest = Math.max(...s.minutes.map(callsIn));
  const limiterMode = v.sharedLimiterConfigured
    ? l.shared
      ? `shared with the other replicas through Redis${h(redisTopologyText(v.redis))}`
      : `<span class="fail">Redis unavailable${v.redis?.failoverInProgress ? ' (failover in progress)' : ''}: per-replica fallback budget</span>`
    : 'this process only (no REDIS_URL)';
  const title = v.tenant ? `convertkit-scim status: ${v.tenant}` : 'convertkit-scim status';
  return page(
    title,
    `<header><h1>convertkit-scim status</h1>
${v.tenant ? `<span class="tenant">tenant ${h(v.tenant)}</span>` : ''}
<span class="replica">replica ${h(v.replica.host)} · pid ${h(v.replica.pid)}</span>
<span>${v.fleet ? 'fleet figures from Redis, then this replica’s' : 'figures for this replica only'} · up since ${h(new Date(s.startedAt).toISOString())} · refreshed every ${REFRESH_SECONDS} s · ${h(new Date(s.now).toISOString())}</span>
<form method="post" action="${h(v.base ?? '/status')}/logout"><span>signed in as ${h(v.signedInAs)}</span> <button type="submit">Sign out</button></form>
</header>
<main>
${fleetSection(v)}
<section class="wide" id="budget"><h2>Kit calls per minute from this replica, last hour, by lane (${h(v.budgetPerMinute)} per minute is the whole budget)</h2>
${budgetChart(s.minutes, v.budgetPerMinute)}
<p>${h(hour.calls)} calls in the last hour; busiest minute ${h(busiest)} (${h(Math.round((busiest / v.budgetPerMinute) * 100))} % of the budget).</p></section>
<section id="limiter"><h2>Limiter</h2>${scroll(`<table>
<tr><td>slots</td><td>${limiterMode}; calls start ≥ ${h(l.spacingMs)} ms apart</td></tr>
<tr><td>queued now</td><td class="num">${h(l.queued)} (${PRIORITIES.map((p) => `${h(p)} ${h(l.byPriority[p])}`).join(', ')})</td></tr>
<tr><td>holding a slot / talking to Kit</td><td class="num">${h(l.committed)} / ${h(l.running)}</td></tr>
<tr><td>paused after a 429</td><td class="num">${l.pausedForMs > 0 ? `${h(Math.ceil(l.pausedForMs / 1000))} s left` : 'no'}</td></tr>
<tr><td>peak queue depth, last hour</td><td class="num">${h(hour.peakQueue)}</td></tr>
<tr><td>wait for a slot, last hour</td><td class="num">mean ${h(hour.waits ? Math.round(hour.waitMs / hour.waits) : 0)} ms, max ${h(Math.round(hour.maxWaitMs))} ms</td></tr>
</table>`)}</section>
<section id="kit-errors"><h2>Kit 429s and retries, last hour</h2>${scroll(`<table>
<tr><td>429 answers from Kit</td><td class="num rate-limited">${h(hour.rateLimited)}</td></tr>
<tr><td>retried exchanges</td><td class="num retries">${h(hour.retries)}</td></tr>
<tr><td>exchanges without an answer (timeouts, resets)</td><td class="num">${h(hour.transportErrors)}</td></tr>
</table>`)}</section>
<section id="provisioning"><h2>Provisioning since start</h2>${scroll(`<table>
<tr><td>provisioning operations</td><td class="num operations-total">${h(s.totals.operations)}</td></tr>
<tr><td>users deprovisioned (deactivated or deleted)</td><td class="num deprovisions">${h(s.totals.deprovisions)}</td></tr>
</table>`)}</section>
<section id="refusals"><h2>Refusals and drops since start</h2>${scroll(`<table>
<tr><td>reactivations refused (Kit cannot reactivate)</td><td class="num reactivation-refusals">${h(s.totals.reactivationRefusals)}</td></tr>
<tr><td>group members skipped (not users)</td><td class="num skipped-members">${h(s.totals.skippedMembers)}</td></tr>
<tr><td>Kit webhook deliveries dropped (re-read budget spent / too many pending)</td><td class="num webhook-drops">${h(s.totals.webhookDeliveriesDropped.over_budget)} / ${h(s.totals.webhookDeliveriesDropped.pending_full)}</td></tr>
</table>`)}</section>
<section id="readiness"><h2>Readiness</h2>${readinessTable(v.readiness)}</section>
<section class="wide" id="operations"><h2>Last ${h(s.operations.length)} provisioning operations on this replica (newest first)</h2>${operationsTable(s.operations)}</section>
</main>`,
    { refresh: true, sandbox: v.readiness.sandbox },
  );
}

/** `/status` on a server with several tenants: the tenants a signed-in token may open, or the sign-in form. */
export function renderChooser(opts: {
  tenants: Array<{ id: string; sandbox: boolean }>;
  signedInAs: string;
  sandbox: boolean;
}): string {
  const items = opts.tenants
    .map(
      (t) =>
        `<li><a href="/tenants/${encodeURIComponent(t.id)}/status">${h(t.id)}</a>${t.sandbox ? ' <span class="muted">(sandbox)</span>' : ''}</li>`,
    )
    .join('');
  return page(
    'convertkit-scim status: tenants',
    `<header><h1>convertkit-scim status</h1><span>signed in as ${h(opts.signedInAs)}</span>
<form method="post" action="/status/logout"><button type="submit">Sign out</button></form></header>
<main><section class="wide" id="tenants"><h2>Tenants</h2>
${items ? `<p>The status pages this token opens (signing in here signed you in to each):</p><ul class="tenants">${items}</ul>` : '<p class="muted">This token opens no tenant’s status page.</p>'}
</section></main>`,
    { sandbox: opts.sandbox },
  );
}

/** " (sentinel, primary 10.0.0.5:6379)", " (cluster of 3 shards)", or nothing for a plain Redis. */
function redisTopologyText(state: RedisTopologyState | undefined): string {
  if (!state || state.mode === 'standalone') return '';
  if (state.mode === 'sentinel') return ` (sentinel, primary ${state.primary ?? 'unknown'})`;
  return ` (cluster of ${state.shards ?? '?'} shards)`;
}
