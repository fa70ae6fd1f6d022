import fs from 'node:fs';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { type Browser, chromium } from 'playwright-core';
import { type Harness, oktaUser, READONLY_TOKEN, startHarness, TOKEN } from '../support/harness';

// The status page as an operator's browser sees it: headless Chromium (Debian's package) driven by
// playwright-core, against a real server listening on a port, over a real Kit sandbox.

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const OUTPUT_DIR = path.resolve(__dirname, '../../test-output');
const haveBrowser = fs.existsSync(CHROMIUM);

if (!haveBrowser && process.env.REQUIRE_BROWSER !== '1') {
  console.warn(
    `status page browser test SKIPPED: no Chromium at ${CHROMIUM} (apt-get install chromium; CI sets REQUIRE_BROWSER=1)`,
  );
}

const describeBrowser = haveBrowser || process.env.REQUIRE_BROWSER === '1' ? describe : describe.skip;

describeBrowser('/status in a browser', () => {
  let h: Harness;
  let browser: Browser;
  let base: string;

  beforeAll(async () => {
    if (!haveBrowser) throw new Error(`REQUIRE_BROWSER=1 but Chromium is not installed at ${CHROMIUM}`);
    // Kit's real budget and window (120 calls per 60 s): the chart shows the test's calls against the line
    // operators will see. The limiter spaces calls ~0.5 s apart, so this suite takes ~15 s.
    h = await startHarness({ env: { KIT_RATE_WINDOW_MS: '60000' } });
    const server = await h.service.listen(0, '127.0.0.1');
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
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
    await page.goto(`${base}/status/login`);
    await page.fill('input[name=token]', READONLY_TOKEN);
    await Promise.all([page.waitForURL(`${base}/status`), page.click('button[type=submit]')]);

    const cookies = await context.cookies();
    const session = cookies.find((c) => c.name === 'kscim_status');
    expect(session).toMatchObject({ httpOnly: true, sameSite: 'Strict', path: '/status', secure: false });

    const rows = page.locator('table.operations tr.operation');
    const createRow = rows.filter({ has: page.locator('td.resource-id', { hasText: new RegExp(`^${userId}$`) }) });
    expect(await createRow.count()).toBeGreaterThanOrEqual(1);
    expect(await createRow.first().innerText()).toMatch(/okta\s+create\s+User/);
    expect(await rows.filter({ hasText: 'reactivation refused' }).count()).toBe(1);
    expect(await rows.filter({ hasText: '1 members skipped' }).count()).toBe(1);
    expect(await page.locator('.reactivation-refusals').innerText()).toBe('1');
    expect(await page.locator('.skipped-members').innerText()).toBe('1');

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

    fs.mkdirSync(OUTPUT_DIR, { recursive: true });
    await page.setViewportSize({ width: 1280, height: 1000 });
    await page.screenshot({ path: path.join(OUTPUT_DIR, 'status-page.png'), fullPage: true });

    // Signing out ends the session: the page is gone again.
    await Promise.all([page.waitForURL(`${base}/status/login`), page.click('header button[type=submit]')]);
    await page.goto(`${base}/status`);
    expect(new URL(page.url()).pathname).toBe('/status/login');
    await context.close();
  });
});
