import { Writable } from 'node:stream';
import express from 'express';
import request from 'supertest';
import { createLogger, maskSecrets } from '../../src/platform/logging';
import { createRequestLogging, requestIdFor } from '../../src/http/requestLogging';
import { recordKitCallInScope } from '../../src/platform/requestScope';
import { requestScopeMiddleware } from '../../src/http/requestScopeMiddleware';

class MemoryStream extends Writable {
  readonly chunks: string[] = [];
  override _write(chunk: Buffer, _enc: BufferEncoding, done: () => void): void {
    this.chunks.push(chunk.toString());
    done();
  }
  get text(): string {
    return this.chunks.join('');
  }
  get records(): Array<Record<string, any>> {
    return this.text
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l));
  }
}

// Realistic-looking secrets; each must be absent from every output below.
const JWT =
  'eyJhbGciOiJSUzI1NiIsImtpZCI6ImsxIn0.eyJzdWIiOiIwb2ExIiwiYXVkIjoiYXBpOi8vc2NpbSJ9.c2lnbmF0dXJlLWJ5dGVzLWhlcmUtMTIz';
const KIT_KEY = 'kit_8f3a9c2d7e1b4a6f9c0d';
const OPAQUE_BEARER = 'okta-static-token-7Hq2LmX9';
const REFRESH = 'refresh-9d8c7b6a5f4e3d2c1b';
const CLIENT_SECRET = 'client-secret-value-Zq81';

function memoryLogger(knownSecrets: string[] = [], format: 'json' | 'pretty' = 'json') {
  const out = new MemoryStream();
  const logger = createLogger({ level: 'debug', format, knownSecrets }, out);
  return { out, logger };
}

function expectNoSecrets(text: string) {
  for (const secret of [JWT, KIT_KEY, OPAQUE_BEARER, REFRESH, CLIENT_SECRET]) expect(text).not.toContain(secret);
  // A fragment of the JWT signature, in case only part of it were masked.
  expect(text).not.toContain('c2lnbmF0dXJl');
}

describe('createLogger redaction', () => {
  it('redacts credential headers on a request-shaped object', () => {
    const { out, logger } = memoryLogger();
    logger.info(
      { req: { method: 'GET', headers: { authorization: `Bearer ${OPAQUE_BEARER}`, 'x-kit-api-key': KIT_KEY } } },
      'incoming',
    );
    expectNoSecrets(out.text);
    expect(out.records[0].req.headers.authorization).toBe('[REDACTED]');
    expect(out.records[0].req.headers['x-kit-api-key']).toBe('[REDACTED]');
    expect(out.records[0].req.method).toBe('GET');
  });

  it('redacts secret-named fields at any depth without touching the caller’s object', () => {
    const { out, logger } = memoryLogger();
    const credentials = { kind: 'oauth', refreshToken: REFRESH, clientSecret: CLIENT_SECRET };
    const config = {
      kit: { deep: { credentials } },
      apiKey: KIT_KEY,
      tokens: [{ name: 'okta', token: OPAQUE_BEARER }],
    };
    logger.info({ config }, 'configuration loaded');
    expectNoSecrets(out.text);
    const logged = out.records[0].config;
    expect(logged.kit.deep.credentials.kind).toBe('oauth');
    expect(logged.tokens[0].name).toBe('okta');
    expect(credentials.refreshToken).toBe(REFRESH);
  });

  it('masks a JWT, a Bearer credential and a Kit key inside message strings', () => {
    const { out, logger } = memoryLogger();
    logger.warn(`rejected token ${JWT} from the IdP`);
    logger.info('calling Kit with Authorization: Bearer %s and key %s', OPAQUE_BEARER, KIT_KEY);
    logger.info({ note: `header was Bearer ${OPAQUE_BEARER}` }, 'nested string');
    expectNoSecrets(out.text);
    expect(out.records[0].msg).toBe('rejected token [REDACTED_JWT] from the IdP');
    expect(out.records[1].msg).toContain('Bearer [REDACTED]');
  });

  it('masks secrets inside error messages and stacks, which serializers produce after the hooks', () => {
    const { out, logger } = memoryLogger();
    logger.error({ err: new Error(`Kit refused ${KIT_KEY} with token ${JWT}`) }, 'kit call failed');
    expectNoSecrets(out.text);
    expect(out.records[0].err.message).toContain('[REDACTED_KIT_KEY]');
  });

  it('masks configured secrets verbatim wherever they appear, even in child bindings', () => {
    const { out, logger } = memoryLogger([OPAQUE_BEARER]);
    logger.child({ client: `client using ${OPAQUE_BEARER}` }).info(`echo ${OPAQUE_BEARER}`);
    expectNoSecrets(out.text);
  });

  it('masks a configured secret however short, wherever it stands alone', () => {
    // A 7-character Kit key and a 3-character client secret: under any "long enough to mask" cut-off.
    const { out, logger } = memoryLogger(['Kq7x2Zp', 'z9w']);
    logger.info('calling Kit with key Kq7x2Zp');
    logger.info({ apiKeyUsed: 'Kq7x2Zp', url: 'https://kit.test/oauth?secret=z9w&x=1' }, 'token refresh');
    logger.child({ key: 'Kq7x2Zp' }).warn({ err: new Error('Kit refused key Kq7x2Zp') }, 'failed: "z9w"');
    const text = out.text;
    expect(text).not.toMatch(/(?<![A-Za-z0-9])(Kq7x2Zp|z9w)(?![A-Za-z0-9])/);
    expect(out.records[0].msg).toBe('calling Kit with key [REDACTED]');
    expect(out.records[1].url).toBe('https://kit.test/oauth?secret=[REDACTED]&x=1');
    expect(out.records[2].err.message).toBe('Kit refused key [REDACTED]');
    expect(out.records[2].key).toBe('[REDACTED]');
  });

  it('does not mangle longer words that merely contain a short secret', () => {
    const { out, logger } = memoryLogger(['short']);
    logger.info('shortly after, a shortcut');
    expect(out.records[0].msg).toBe('shortly after, a shortcut');
  });

  it('masks in the pretty format too', () => {
    const { out, logger } = memoryLogger([], 'pretty');
    logger.info({ apiKey: KIT_KEY }, `pretty ${JWT}`);
    expect(out.text).toContain('pretty [REDACTED_JWT]');
    expect(() => JSON.parse(out.text)).toThrow();
    expectNoSecrets(out.text);
  });

  it('maskSecrets leaves ordinary text alone', () => {
    const text = 'GET /scim/v2/Users?filter=userName eq "jane@example.com" 200 kit_api_calls_total';
    expect(maskSecrets(text)).toBe(text);
    expect(maskSecrets('https://api.convertkit.com/v3/tags?api_key=abcdef123&x=1')).toBe(
      'https://api.convertkit.com/v3/tags?api_key=[REDACTED]&x=1',
    );
  });

  it('maskSecrets reads client text in one pass', () => {
    // 600 KB of "eyJ": the old JWT pattern rescanned the run from every "eyJ", minutes of work for one line.
    // No clock here: a quadratic pattern makes this test outlast jest's timeout instead.
    const hostile = `a ${'eyJ'.repeat(200_000)} b`;
    expect(maskSecrets(hostile)).toBe(hostile);
    expect(maskSecrets(`token="${JWT}"`)).toBe('token="[REDACTED_JWT]"');
  });
});

describe('createRequestLogging', () => {
  function app() {
    const out = new MemoryStream();
    const logger = createLogger({ level: 'debug', format: 'json' }, out);
    const server = express();
    server.use(createRequestLogging(logger));
    server.use((_req, res, next) => {
      res.locals.principal = { name: 'okta', kind: 'token', readOnly: false };
      next();
    });
    const scim = express.Router();
    scim.get('/Users/:id', (req, res) => {
      res.json({ id: req.params.id, requestId: (req as express.Request & { id: string }).id });
    });
    scim.post('/Users', (_req, res) => {
      res.status(201).json({});
    });
    server.use('/scim/v2', express.json(), scim);
    server.get('/healthz', (_req, res) => {
      res.json({ status: 'ok' });
    });
    return { server, out };
  }

  it('honours a valid X-Request-Id and echoes it', async () => {
    const { server, out } = app();
    const res = await request(server).get('/scim/v2/Users/42').set('X-Request-Id', 'okta-req:abc.123_x-1');
    expect(res.headers['x-request-id']).toBe('okta-req:abc.123_x-1');
    expect(res.body.requestId).toBe('okta-req:abc.123_x-1');
    expect(out.records[0].req.id).toBe('okta-req:abc.123_x-1');
  });

  it.each([
    ['too long', 'a'.repeat(129)],
    ['forbidden characters', 'abc def<script>'],
    ['empty', ''],
  ])('replaces an invalid X-Request-Id (%s) with a UUID', async (_label, incoming) => {
    const { server } = app();
    const res = await request(server).get('/scim/v2/Users/42').set('X-Request-Id', incoming);
    expect(res.headers['x-request-id']).toMatch(
      /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
    );
    expect(res.headers['x-request-id']).not.toBe(incoming);
  });

  it('generates an id when none was sent, and accepts exactly 128 characters', async () => {
    const { server } = app();
    expect((await request(server).get('/scim/v2/Users/1')).headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    expect(requestIdFor('b'.repeat(128))).toBe('b'.repeat(128));
  });

  it('logs method, route pattern, status, duration and principal, but no headers, bodies or query', async () => {
    const { server, out } = app();
    await request(server)
      .post('/scim/v2/Users?filter=userName%20eq%20%22jane%40example.com%22')
      .set('Authorization', `Bearer ${JWT}`)
      .set('X-Kit-Api-Key', KIT_KEY)
      .send({ userName: 'jane@example.com', password: 'hunter2-password' });
    const [line] = out.records;
    expect(line.req.method).toBe('POST');
    expect(line.req.path).toBe('/scim/v2/Users');
    expect(line.route).toBe('/scim/v2/Users');
    expect(line.res.statusCode).toBe(201);
    expect(typeof line.responseTime).toBe('number');
    expect(line.principal).toBe('okta');
    expect(line.msg).toBe('POST /scim/v2/Users 201');
    expect(line.req.headers).toBeUndefined();
    expectNoSecrets(out.text);
    expect(out.text).not.toContain('jane');
    expect(out.text).not.toContain('hunter2');
  });

  it('summarises the Kit calls the request made, by endpoint pattern and status', async () => {
    const out = new MemoryStream();
    const server = express();
    server.use(createRequestLogging(createLogger({ level: 'info', format: 'json' }, out)));
    server.use(requestScopeMiddleware());
    server.get('/scim/v2/Users/:id', (_req, res) => {
      recordKitCallInScope({
        method: 'GET',
        endpoint: 'GET /v4/subscribers/:id',
        status: 200,
        durationMs: 12,
        attempt: 1,
      });
      recordKitCallInScope({
        method: 'GET',
        endpoint: 'GET /v4/subscribers/:id/tags',
        status: 500,
        durationMs: 3,
        attempt: 1,
      });
      recordKitCallInScope({
        method: 'GET',
        endpoint: 'GET /v4/subscribers/:id/tags',
        status: 500,
        durationMs: 4,
        attempt: 2,
      });
      res.json({});
    });
    await request(server).get('/scim/v2/Users/7');
    const [line] = out.records;
    expect(line.kit).toEqual({
      calls: 3,
      ms: 19,
      endpoints: ['GET /v4/subscribers/:id 200', 'GET /v4/subscribers/:id/tags 500 ×2'],
    });
  });

  it('logs probes at debug level and client errors at warn', async () => {
    const { server, out } = app();
    await request(server).get('/healthz');
    await request(server).get('/nowhere/at/all');
    expect(out.records.map((r) => r.level)).toEqual([20, 40]);
    expect(out.records[1].route).toBe('unmatched');
  });
});
