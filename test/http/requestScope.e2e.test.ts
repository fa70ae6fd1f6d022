import express from 'express';
import request from 'supertest';
import {
  currentScope,
  MAX_KIT_CALLS_PER_SCOPE,
  recordKitCallInScope,
  runInRequestScope,
} from '../../src/platform/requestScope';
import { requestScopeMiddleware } from '../../src/http/requestScopeMiddleware';
import type { KitCallRecord } from '../../src/kit/types';

const call = (endpoint: string, status: number | 'error' = 200): KitCallRecord => ({
  method: endpoint.split(' ')[0],
  endpoint,
  status,
  durationMs: 10,
  attempt: 1,
});

const tick = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Stands in for the Kit client: an async call whose onCall hook records into whatever scope is current. */
async function fakeKitCall(endpoint: string, delayMs: number): Promise<void> {
  await tick(delayMs);
  recordKitCallInScope(call(endpoint));
}

describe('request scope', () => {
  it('records nothing outside a request', () => {
    expect(currentScope()).toBeUndefined();
    expect(() => recordKitCallInScope(call('GET /v4/account'))).not.toThrow();
  });

  it('collects Kit calls into the scope it runs in', async () => {
    const scope = { requestId: 'r-1', kitCalls: [] };
    await runInRequestScope(scope, async () => {
      await fakeKitCall('GET /v4/subscribers', 1);
      await fakeKitCall('POST /v4/tags', 1);
    });
    expect(scope.kitCalls.map((c: KitCallRecord) => c.endpoint)).toEqual(['GET /v4/subscribers', 'POST /v4/tags']);
  });

  it('caps the records kept per scope and counts the rest', () => {
    const scope: Parameters<typeof runInRequestScope>[0] = { requestId: 'r-2', kitCalls: [] };
    runInRequestScope(scope, () => {
      for (let i = 0; i < MAX_KIT_CALLS_PER_SCOPE + 7; i++) recordKitCallInScope(call('GET /v4/subscribers'));
    });
    expect(scope.kitCalls).toHaveLength(MAX_KIT_CALLS_PER_SCOPE);
    expect(scope.kitCallsDropped).toBe(7);
  });

  it('survives express 5 async handlers and reaches the error handler, without mixing concurrent requests', async () => {
    const app = express();
    app.use((req, _res, next) => {
      Object.assign(req, { id: req.get('x-test-id') });
      next();
    });
    app.use(requestScopeMiddleware());
    app.get('/work/:name', async (req, res) => {
      const delay = req.params.name === 'slow' ? 30 : 1;
      await fakeKitCall(`GET /v4/${req.params.name}/first`, delay);
      await Promise.resolve();
      await fakeKitCall(`GET /v4/${req.params.name}/second`, 1);
      const scope = currentScope()!;
      res.json({ requestId: scope.requestId, calls: scope.kitCalls.map((c) => c.endpoint) });
    });
    app.get('/fail', async () => {
      await fakeKitCall('GET /v4/failing', 2);
      throw new Error('kit exploded');
    });
    app.use((_err: unknown, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
      const scope = currentScope();
      res.status(500).json({ requestId: scope?.requestId, calls: scope?.kitCalls.map((c) => c.endpoint) });
    });

    const [slow, fast] = await Promise.all([
      request(app).get('/work/slow').set('x-test-id', 'req-slow'),
      request(app).get('/work/fast').set('x-test-id', 'req-fast'),
    ]);
    expect(slow.body).toEqual({ requestId: 'req-slow', calls: ['GET /v4/slow/first', 'GET /v4/slow/second'] });
    expect(fast.body).toEqual({ requestId: 'req-fast', calls: ['GET /v4/fast/first', 'GET /v4/fast/second'] });

    const failed = await request(app).get('/fail').set('x-test-id', 'req-fail');
    expect(failed.status).toBe(500);
    expect(failed.body).toEqual({ requestId: 'req-fail', calls: ['GET /v4/failing'] });
  });

  it('generates a request id when none was assigned, and can take one from a custom source', async () => {
    const app = express();
    app.get('/default', requestScopeMiddleware(), (_req, res) => {
      res.json({ id: currentScope()?.requestId });
    });
    app.get('/custom', requestScopeMiddleware({ requestId: (req) => `custom-${req.path.length}` }), (_req, res) => {
      res.json({ id: currentScope()?.requestId, same: res.locals.scope === currentScope() });
    });
    const a = await request(app).get('/default');
    const b = await request(app).get('/default');
    expect(a.body.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(a.body.id).not.toBe(b.body.id);
    expect((await request(app).get('/custom')).body).toEqual({ id: 'custom-7', same: true });
  });
});
