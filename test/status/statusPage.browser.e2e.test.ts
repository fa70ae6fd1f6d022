import fs from 'node:fs';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { type Browser, chromium, type Page } from 'playwright-core';
import request from 'supertest';
import type { Service } from '../../src/app/service';
import { type Fleet, startFleet } from '../support/fleet';
import { type Harness, oktaUser, READONLY_TOKEN, startHarness, TOKEN } from '../support/harness';
import { hasRedisServer, PrivateRedis } from '../support/privateRedis';
import { processConfig, sandboxFor, startTenants, tenantConfig, tokenOf } from '../support/tenants';

// The status page as an operator's browser sees it: headless Chromium (Debian's package) driven by
// playwright-core, against real servers listening on ports, over a real Kit sandbox: one server, two replicas on
// one private Redis, a phone-wide viewport, and a server with several tenants.

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const OUTPUT_DIR = path.resolve(__dirname, '../../test-output');
const haveBrowser = fs.existsSync(CHROMIUM);

if (!haveBrowser && process.env.REQUIRE_BROWSER !== '1') {
  console.warn(
    `status page browser test SKIPPED: no Chromium at ${CHROMIUM} (apt-get install chromium; CI sets REQUIRE_BROWSER=1)`,
  );
}

const describeBrowser = haveBrowser || process.env.REQUIRE_BROWSER === '1' ? describe : describe.skip;

/** A phone's width: the page must read there without sideways scrolling. */
const NARROW = { width: 390, height: 844 };

async function listen(service: Service): Promise<string> {
  const server = await service.listen(0, '127.0.0.1');
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function signIn(page: Page, loginUrl: string, token: string, landing: string): Promise<void> {
  await page.goto(loginUrl);
  await page.fill('input[name=token]', token);
  await Promise.all([page.waitForURL(landing), page.click('button[type=submit]')]);
}

/** How far the page scrolls sideways: its document's width beyond the viewport. */
const pageWidth = (page: Page) => page.evaluate<number>('document.documentElement.scrollWidth');

let browser: Browser;

beforeAll(async () => {
  if (!haveBrowser) {
    if (process.env.REQUIRE_BROWSER === '1')
      throw new Error(`REQUIRE_BROWSER=1 but Chromium is not installed at ${CHROMIUM}`);
    return;
  }
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
});

afterAll(async () => {
  await browser?.close();
});

describeBrowser('/status in a browser', () => {
  let h: Harness;
  let base: string;

  beforeAll(async () => {
    // Kit's real budget and window (120 calls per 60 s): the chart shows the test's calls against the line
    // operators will see. The limiter spaces calls ~0.5 s apart, so this suite takes ~15 s.
    h = await startHarness({ env: { KIT_RATE_WINDOW_MS: '60000' } });
    base = await listen(h.service);
  });

  afterAll(async () => {
    await h?.close();
  });

  it('shows nothing without a session: /status sends the browser to the login form', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    const answer = await page.goto(`${base}/status`);
    expect(new URL(page.url()).pathname).toBe('/status/login');
    expect(answer?.status()).toBe(200);
    expect(await page.locator('form.login input[name=token]').count()).toBe(1);
    expect(await page.locator('svg.budget-chart').count()).toBe(0);
    expect(await page.content()).not.toMatch(/Kit calls per minute|provisioning operations/);
    await context.close();
  });

  it('logs in with a read-only token and shows the operation just made, the budget chart and the refusals', async () => {
    // Provisioning the page must show: a user created by "okta", a reactivation refused, a group whose
    // member list names an id that is no user.
    const created = await h.post('/scim/v2/Users', oktaUser('status.page@example.com'));
    expect(created.status).toBe(201);
    const userId: string = created.body.id;
    const gone = await h.post('/scim/v2/Users', oktaUser('gone@example.com'));
    await h.patch(`/scim/v2/Users/${gone.body.id}`, {
      schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
      Operations: [{ op: 'replace', path: 'active', value: false }],
    });
    expect(
      (
        await h.patch(`/scim/v2/Users/${gone.body.id}`, {
          schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
          Operations: [{ op: 'replace', path: 'active', value: true }],
        })
      ).status,
    ).toBe(400);
    const group = await h.post('/scim/v2/Groups', {
      schemas: ['urn:ietf:params:scim:schemas:core:2.0:Group'],
      displayName: 'Status readers',
      members: [{ value: userId }, { value: '999999999' }],
    });
    expect(group.status).toBe(201);

    const context = await browser.newContext();
    const page = await context.newPage();
    await signIn(page, `${base}/status/login`, READONLY_TOKEN, `${base}/status`);

    const cookies = await context.cookies();
    const session = cookies.find((c) => c.name === 'kscim_status');
    expect(session).toMatchObject({ httpOnly: true, sameSite: 'Strict', path: '/status', secure: false });

    const rows = page.locator('table.operations tr.operation');
    const createRow = rows.filter({ has: page.locator('td.resource-id', { hasText: new RegExp(`^${userId}$`) }) });
    expect(await createRow.count()).toBeGreaterThanOrEqual(1);
    expect(await createRow.first().innerText()).toMatch(/okta\s+create\s+User/);
    // The refused reactivation: one row, the PATCH with its SCIM error.
    const refusal = rows.filter({ hasText: 'reactivation refused' });
    expect(await refusal.count()).toBe(1);
    expect(await refusal.locator('td').nth(2).innerText()).toBe('patch');
    expect(await refusal.locator('code.scim-type').innerText()).toMatch(/^\w+$/);
    expect(await rows.filter({ hasText: 'deprovisioned (deactivate)' }).count()).toBe(1);
    expect(await rows.filter({ hasText: '1 members skipped' }).count()).toBe(1);
    expect(await page.locator('.reactivation-refusals').innerText()).toBe('1');
    expect(await page.locator('.skipped-members').innerText()).toBe('1');
    expect(await page.locator('.deprovisions').innerText()).toBe('1');
    // No Redis here: the page says whose figures it shows.
    expect(await page.locator('p.this-replica-only').innerText()).toContain('this replica only');

    const bars = page.locator('svg.budget-chart rect.kit-calls');
    expect(await bars.count()).toBeGreaterThan(0);
    const counted = await bars.evaluateAll((els) =>
      els.reduce((n, el) => n + Number(el.getAttribute('data-calls')), 0),
    );
    expect(counted).toBeGreaterThan(0);
    expect(await page.locator('svg.budget-chart line.budget title').textContent()).toContain(
      'budget: 120 calls per minute',
    );

    expect(await page.locator('header .replica').innerText()).toMatch(/replica .+ · pid \d+/);
    expect(await page.locator('header').innerText()).toContain('signed in as iga');
    const html = await page.content();
    for (const secret of [READONLY_TOKEN, TOKEN, h.sandbox.apiKey, 'status.page@example.com', 'gone@example.com']) {
      expect(html).not.toContain(secret);
    }
    // No script anywhere: the page works without JavaScript.
    expect(await page.locator('script').count()).toBe(0);
    expect(html).toMatch(/<meta http-equiv="refresh" content="\d+">/);

    // A phone's width: everything reads without scrolling sideways (wide tables scroll inside their card).
    await page.setViewportSize(NARROW);
    expect(await pageWidth(page)).toBeLessThanOrEqual(NARROW.width);

    // Signing out ends the session: the page is gone again.
    await Promise.all([page.waitForURL(`${base}/status/login`), page.click('header button[type=submit]')]);
    await page.goto(`${base}/status`);
    expect(new URL(page.url()).pathname).toBe('/status/login');
    await context.close();
  });
});

const describeFleet = hasRedisServer ? describeBrowser : describe.skip;

describeFleet('/status in a browser, two replicas on one Redis', () => {
  let redis: PrivateRedis;
  let fleet: Fleet;
  const bases: string[] = [];

  beforeAll(async () => {
    redis = await PrivateRedis.start();
    fleet = await startFleet(redis.url, { KIT_RATE_WINDOW_MS: '60000' });
    for (const replica of fleet.replicas) bases.push(await listen(replica));
  });
  afterAll(async () => {
    await fleet?.close();
    await redis?.stop();
  });

  it('shows the calls of both replicas against the budget and a row per replica, at any width', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await signIn(page, `${bases[0]}/status/login`, READONLY_TOKEN, `${bases[0]}/status`);
    const before = Number(await page.locator('.fleet-calls').innerText());
    fleet.sandbox.resetCalls();
    // Provisioning through both replicas, as a load balancer spreads an IdP's requests.
    for (const [i, base] of bases.entries()) {
      const res = await request(base)
        .post('/scim/v2/Users')
        .set('Authorization', `Bearer ${TOKEN}`)
        .set('Content-Type', 'application/scim+json')
        .send(JSON.stringify(oktaUser(`fleet.browser.${i}@example.com`)));
      expect(res.status).toBe(201);
    }
    const answered = fleet.sandbox.calls().total;

    // Replica A's page shows B's calls too: every call booked once in the shared limiter.
    await page.reload();
    expect(Number(await page.locator('.fleet-calls').innerText()) - before).toBe(answered);
    const fleetBars = page.locator('#fleet-budget svg.budget-chart rect.kit-calls');
    expect(await fleetBars.count()).toBeGreaterThan(0);
    expect(await page.locator('#fleet-budget line.budget title').textContent()).toContain(
      'budget: 120 calls per minute',
    );
    const replicas = page.locator('table.replicas tr.replica-row');
    expect(await replicas.count()).toBe(2);
    expect(await replicas.locator('td.last-seen').allInnerTexts()).toEqual(
      expect.arrayContaining([expect.stringMatching(/^(now|\d+ s ago)$/)]),
    );
    expect(await page.locator('p.this-replica-only').count()).toBe(0);

    // The other replica: the same session (a stateless cookie both accept is per origin here, so sign in again).
    const other = await context.newPage();
    await signIn(other, `${bases[1]}/status/login`, READONLY_TOKEN, `${bases[1]}/status`);
    expect(Number(await other.locator('.fleet-calls').innerText()) - before).toBe(answered);
    expect((await other.locator('table.replicas tr.replica-row').allInnerTexts()).length).toBe(2);

    fs.mkdirSync(OUTPUT_DIR, { recursive: true });
    await page.setViewportSize({ width: 1280, height: 1000 });
    await page.screenshot({ path: path.join(OUTPUT_DIR, 'status-page.png'), fullPage: true });
    expect(await pageWidth(page)).toBeLessThanOrEqual(1280);
    await page.setViewportSize(NARROW);
    expect(await pageWidth(page)).toBeLessThanOrEqual(NARROW.width);
    await context.close();
  });
});

describeBrowser('/status in a browser, several tenants', () => {
  let close: () => Promise<void>;
  let sandboxClose: () => Promise<void>;
  let base: string;

  beforeAll(async () => {
    const sandbox = await sandboxFor();
    sandboxClose = () => sandbox.close();
    const tenants = await startTenants(
      [tenantConfig('north', sandbox), { ...tenantConfig('south', sandbox), sandbox: true }],
      processConfig(sandbox),
    );
    close = tenants.close;
    base = await listen(tenants.service);
  });
  afterAll(async () => {
    await close?.();
    await sandboxClose?.();
  });

  it('chooses a tenant at /status and opens its page, named, with the SANDBOX banner where it applies', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await signIn(page, `${base}/status/login`, tokenOf('south'), `${base}/status`);
    const links = page.locator('ul.tenants a');
    expect(await links.allInnerTexts()).toEqual(['south']);
    expect(await page.locator('.sandbox-banner').count()).toBe(1);
    await Promise.all([page.waitForURL(`${base}/tenants/south/status`), links.first().click()]);
    expect(await page.locator('header .tenant').innerText()).toBe('tenant south');
    expect(await page.locator('.sandbox-banner').innerText()).toMatch(/^SANDBOX: /);
    await page.setViewportSize(NARROW);
    expect(await pageWidth(page)).toBeLessThanOrEqual(NARROW.width);
    // The other tenant's page is not open to this token.
    await page.goto(`${base}/tenants/north/status`);
    expect(new URL(page.url()).pathname).toBe('/tenants/north/status/login');
    expect(await page.locator('.sandbox-banner').count()).toBe(0);
    await context.close();
  });
});
