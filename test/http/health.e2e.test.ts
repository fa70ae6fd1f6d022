import express from 'express';
import request from 'supertest';
import { livenessHandler, readinessHandler } from '../../src/http/health';
import { Readiness } from '../../src/platform/readiness';
import { stampClock } from '../support/clock';

function app(readiness: Readiness) {
  const server = express();
  server.get('/healthz', livenessHandler());
  server.get(
    '/readyz',
    readinessHandler(() => readiness.report()),
  );
  return server;
}

describe('health endpoints', () => {
  it('answers /healthz 200 whatever readiness says', async () => {
    const readiness = new Readiness();
    readiness.set('kit', false, 'Kit answered 401');
    readiness.beginShutdown();
    const res = await request(app(readiness)).get('/healthz');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(res.body).toEqual({ status: 'ok' });
  });

  it('is ready when every check passes', async () => {
    const readiness = new Readiness({ clock: stampClock(() => Date.UTC(2030, 0, 1)) });
    readiness.set('kit', true, 'account 1234');
    readiness.set('customFields', true);
    const res = await request(app(readiness)).get('/readyz');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.body).toEqual({
      status: 'ok',
      shuttingDown: false,
      checks: {
        kit: { ok: true, since: '2030-01-01T00:00:00.000Z' },
        customFields: { ok: true, since: '2030-01-01T00:00:00.000Z' },
      },
    });
  });

  it('answers 503 naming the failing checks, with masked details', async () => {
    const readiness = new Readiness();
    readiness.set('kit', false, 'Kit rejected our credentials (401) for X-Kit-Api-Key kit_8f3a9c2d7e1b4a6f');
    readiness.set('redis', true);
    const res = await request(app(readiness)).get('/readyz');
    expect(res.status).toBe(503);
    expect(res.body.status).toBe('unavailable');
    expect(res.body.checks.kit.ok).toBe(false);
    expect(res.body.checks.kit.detail).toMatch(/^Kit rejected our credentials/);
    expect(res.body.checks.redis).toEqual({ ok: true, since: expect.any(String) });
    expect(res.text).not.toContain('kit_8f3a9c2d7e1b4a6f');
  });

  it('is not ready while a registered check has not reported, and recovers when it does', async () => {
    const readiness = new Readiness();
    readiness.register('customFields');
    const server = app(readiness);
    const before = await request(server).get('/readyz');
    expect(before.status).toBe(503);
    expect(before.body.checks.customFields).toMatchObject({ ok: false, detail: 'not checked yet' });
    readiness.set('customFields', true);
    expect((await request(server).get('/readyz')).status).toBe(200);
  });

  it('keeps `since` while a check stays in the same state and moves it when the state flips', () => {
    let clock = Date.UTC(2030, 0, 1);
    const readiness = new Readiness({ clock: stampClock(() => clock) });
    readiness.set('kit', true);
    clock += 60_000;
    readiness.set('kit', true);
    expect(readiness.report().checks.kit.since).toBe('2030-01-01T00:00:00.000Z');
    readiness.set('kit', false, 'timeout');
    expect(readiness.report().checks.kit.since).toBe('2030-01-01T00:01:00.000Z');
  });

  it('answers 503 once shutdown has begun even with every check passing', async () => {
    const readiness = new Readiness();
    readiness.set('kit', true);
    const server = app(readiness);
    expect((await request(server).get('/readyz')).status).toBe(200);
    readiness.beginShutdown();
    const res = await request(server).get('/readyz');
    expect(res.status).toBe(503);
    expect(res.body.shuttingDown).toBe(true);
    expect(readiness.shuttingDown).toBe(true);
    readiness.shuttingDown = false;
    expect((await request(server).get('/readyz')).status).toBe(200);
  });

  it('truncates long details', () => {
    const readiness = new Readiness();
    readiness.set('kit', false, 'x'.repeat(5000));
    expect(readiness.report().checks.kit.detail!.length).toBeLessThanOrEqual(300);
  });
});
