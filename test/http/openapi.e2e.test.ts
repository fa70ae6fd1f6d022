import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { ValidateFunction } from 'ajv';
import Ajv2020 from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import request from 'supertest';
import YAML from 'yaml';
import type { KitSandbox } from '@convertkit-scim/kit-sandbox';
import type { Service } from '../../src/app/service';
import { type Harness, oktaUser, patch, READONLY_TOKEN, startHarness, TOKEN } from '../support/harness';
import { OPERATOR_TOKEN, processConfig, sandboxFor, startTenants, tenantConfig, tokenOf } from '../support/tenants';
import { unique } from '../support/unique';
import { type JwksServer, type SigningKey, signingKey, signToken, startJwksServer } from '../fixtures/http/jwksServer';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';

// openapi/openapi.yaml against the running server: every response this suite provokes must carry a status the
// spec declares for its path and method, a media type the spec declares for that status, a body that validates
// against the declared schema and every required header. Every operation in the spec must be exercised (with a
// 2xx at least once, and at every server it names), and no route the app serves may answer 2xx without being in
// the spec. Tenants: the `/scim/v2` operations are served at two bases, the root and
// `/tenants/{tenant}` (the spec's two `servers`); a server with two tenants is checked route by route too.

const SPEC_FILE = path.join(__dirname, '../../openapi/openapi.yaml');
const SCHEMAS_ID = 'https://convertkit-scim.invalid/openapi/schemas';
const spec = YAML.parse(readFileSync(SPEC_FILE, 'utf8'));

const METHODS = ['get', 'post', 'put', 'patch', 'delete'] as const;
type Method = (typeof METHODS)[number];

const CORE_USER = 'urn:ietf:params:scim:schemas:core:2.0:User';
const ENTERPRISE = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';
const CORE_GROUP = 'urn:ietf:params:scim:schemas:core:2.0:Group';
const SEARCH = 'urn:ietf:params:scim:api:messages:2.0:SearchRequest';

// ---- the spec as data ---------------------------------------------------------------------------------------

const escapePointer = (s: string) => s.replace(/~/g, '~0').replace(/\//g, '~1');
const pointer = (...parts: string[]) => `#/${parts.map(escapePointer).join('/')}`;

function at(ref: string): any {
  if (!ref.startsWith('#/')) throw new Error(`only local references are used in the spec, got ${ref}`);
  let node: any = spec;
  for (const raw of ref.slice(2).split('/')) {
    const key = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (node === null || typeof node !== 'object' || !(key in node)) throw new Error(`unresolvable $ref ${ref}`);
    node = node[key];
  }
  return node;
}

/** Follows OpenAPI reference objects (responses, parameters, headers); returns the target and its pointer. */
function follow(ptr: string): { node: any; ptr: string } {
  let node = at(ptr);
  const seen = new Set<string>();
  while (node && typeof node === 'object' && typeof node.$ref === 'string') {
    if (seen.has(node.$ref)) throw new Error(`$ref cycle at ${node.$ref}`);
    seen.add(node.$ref);
    ptr = node.$ref;
    node = at(ptr);
  }
  return { node, ptr };
}

/** The path part of a server URL, `{variables}` kept: '' for the root, '/tenants/{tenant}' for a tenant. */
const basePath = (url: string) => url.replace(/^[a-z][a-z0-9+.-]*:\/\/[^/]+/i, '').replace(/\/$/, '');

/** Where one operation is served: a server's base path followed by the path template. */
interface Location {
  base: string;
  full: string;
  matcher: RegExp;
  literalLength: number;
}

interface SpecOperation {
  key: string;
  method: Method;
  template: string;
  ptr: string;
  op: any;
  /** One per server the operation names (its own `servers`, its path item's, else the document's). */
  locations: Location[];
}

const locationOf = (base: string, template: string): Location => {
  const full = `${base}${template}`;
  return {
    base,
    full,
    matcher: new RegExp(
      `^${full
        .split(/\{[^}]+\}/)
        .map((s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
        .join('[^/]+')}/?$`,
    ),
    literalLength: full.replace(/\{[^}]+\}/g, '').length,
  };
};

const operations: SpecOperation[] = Object.entries(spec.paths as Record<string, any>).flatMap(([template, item]) =>
  METHODS.filter((m) => item[m]).map((method) => ({
    key: `${method.toUpperCase()} ${template}`,
    method,
    template,
    ptr: pointer('paths', template, method),
    op: item[method],
    locations: ((item[method].servers ?? item.servers ?? spec.servers) as Array<{ url: string }>).map((s) =>
      locationOf(basePath(s.url), template),
    ),
  })),
);

/** Every described `METHOD /full/path`, parameters written `{}` (how app routes are compared with them). */
const normalized = (p: string) => p.replace(/\{[^}]+\}/g, '{}');

/** The spec operation answering `method path`, and where: the matching location with the most literal characters. */
function locate(method: string, pathname: string): { o: SpecOperation; at: Location } | undefined {
  return operations
    .filter((o) => o.method === method.toLowerCase())
    .flatMap((o) => o.locations.filter((l) => l.matcher.test(pathname)).map((at) => ({ o, at })))
    .sort((a, b) => b.at.literalLength - a.at.literalLength)[0];
}

const findOperation = (method: string, pathname: string) => locate(method, pathname)?.o;

/** Path-level and operation-level parameters, references followed. */
function parametersOf(o: SpecOperation): Array<{ node: any; ptr: string }> {
  const pathLevel = (spec.paths[o.template].parameters ?? []).map((_: unknown, i: number) =>
    follow(pointer('paths', o.template, 'parameters', String(i))),
  );
  const opLevel = (o.op.parameters ?? []).map((_: unknown, i: number) => follow(`${o.ptr}/parameters/${i}`));
  return [...pathLevel, ...opLevel];
}

// ---- JSON Schema 2020-12 validation of the spec's schemas ---------------------------------------------------

const ajv = new Ajv2020({ strict: true, allowUnionTypes: true, allErrors: true });
addFormats(ajv);
// OpenAPI 3.1's own schema keywords, so strict mode still rejects typos in every other keyword.
ajv.addVocabulary(['example', 'xml', 'externalDocs']);

/** Schema references point into components/schemas; here they point into a schema-only document. */
function rewriteRefs(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(rewriteRefs);
  if (!node || typeof node !== 'object') return node;
  return Object.fromEntries(
    Object.entries(node).map(([k, v]) => {
      if (k === '$ref' && typeof v === 'string') {
        if (!v.startsWith('#/components/schemas/')) throw new Error(`a schema refers outside components/schemas: ${v}`);
        return [k, `${SCHEMAS_ID}#/$defs/${v.slice('#/components/schemas/'.length)}`];
      }
      return [k, rewriteRefs(v)];
    }),
  );
}
ajv.addSchema({ $id: SCHEMAS_ID, $defs: rewriteRefs(spec.components.schemas) });
const validators = new Map<string, ValidateFunction>();

/** A validator for the schema object at `schemaPtr` (a pointer into the spec). */
function validatorFor(schemaPtr: string): ValidateFunction {
  let v = validators.get(schemaPtr);
  if (!v) {
    v = ajv.compile(rewriteRefs(at(schemaPtr)) as object);
    validators.set(schemaPtr, v);
  }
  return v;
}

function expectValid(schemaPtr: string, value: unknown, what: string): void {
  const validate = validatorFor(schemaPtr);
  if (!validate(value)) {
    throw new Error(
      `${what} does not match ${schemaPtr}:\n${ajv.errorsText(validate.errors, { separator: '\n' })}\n${JSON.stringify(value, null, 1).slice(0, 2000)}`,
    );
  }
}

const isValid = (schemaPtr: string, value: unknown) => validatorFor(schemaPtr)(value) === true;

// ---- exchanges with the app, each checked against the spec --------------------------------------------------

const exercised = new Map<string, Set<number>>();
/** Statuses seen per `METHOD /base/template`, for operations served at several bases. */
const exercisedAt = new Map<string, Set<number>>();

interface CallOptions {
  /** undefined: the read-write test token; null: no Authorization header. */
  token?: string | null;
  body?: unknown;
  /** Sent verbatim (e.g. malformed JSON). */
  raw?: string;
  contentType?: string;
  /** The server asked; the single-tenant harness's unless told. */
  service?: Service;
  /** The client's address, as a trusted proxy reports it (X-Forwarded-For; the service must trust proxies). */
  from?: string;
  /** Further request headers (Origin, Cookie for the status pages). */
  headers?: Record<string, string>;
}

let h: Harness;

async function call(method: Method, url: string, opts: CallOptions = {}): Promise<request.Response> {
  let req = request((opts.service ?? h.service).app)[method](url);
  const token = opts.token === undefined ? TOKEN : opts.token;
  if (token !== null) req = req.set('Authorization', `Bearer ${token}`);
  if (opts.from !== undefined) req = req.set('X-Forwarded-For', opts.from);
  for (const [name, value] of Object.entries(opts.headers ?? {})) req = req.set(name, value);
  if (opts.raw !== undefined || opts.body !== undefined) {
    req = req
      .set('Content-Type', opts.contentType ?? 'application/scim+json')
      .send(opts.raw ?? JSON.stringify(opts.body));
  }
  const res = await req;
  checkAgainstSpec(method, url, res, opts);
  return res;
}

function checkAgainstSpec(method: Method, url: string, res: request.Response, opts: CallOptions): void {
  const where = `${method.toUpperCase()} ${url} → ${res.status}`;
  const parsed = new URL(url, 'http://localhost');
  const found = locate(method, parsed.pathname);
  if (!found) throw new Error(`${where}: the spec has no operation for ${method.toUpperCase()} ${parsed.pathname}`);
  const { o } = found;
  for (const [map, key] of [
    [exercised, o.key],
    [exercisedAt, `${method.toUpperCase()} ${found.at.full}`],
  ] as const) {
    map.set(key, (map.get(key) ?? new Set<number>()).add(res.status));
  }

  // The status must be one the spec declares for this operation.
  const declared = Object.keys(o.op.responses);
  if (!declared.includes(String(res.status))) {
    throw new Error(`${where}: ${o.key} declares only ${declared.join(', ')}; body: ${res.text?.slice(0, 500)}`);
  }
  const { node: response, ptr: responsePtr } = follow(`${o.ptr}/responses/${escapePointer(String(res.status))}`);

  // Headers the response declares: required ones present, every present one valid.
  for (const name of Object.keys(response.headers ?? {})) {
    const { node: header, ptr: headerPtr } = follow(`${responsePtr}/headers/${escapePointer(name)}`);
    const value = res.headers[name.toLowerCase()];
    if (header.required && value === undefined) throw new Error(`${where}: required header ${name} is missing`);
    if (value !== undefined) expectValid(`${headerPtr}/schema`, value, `${where}: header ${name}`);
  }

  // Body: a declared media type and a valid body, or no body at all when none is declared.
  if (!response.content) {
    if ((res.text ?? '') !== '') throw new Error(`${where}: the spec declares no body, got ${res.text.slice(0, 200)}`);
  } else {
    const mediaType = String(res.headers['content-type'] ?? '')
      .split(';')[0]
      .trim()
      .toLowerCase();
    const types = Object.keys(response.content);
    if (!types.includes(mediaType)) throw new Error(`${where}: media type "${mediaType}" is not one of ${types}`);
    const payload = /[/+]json$/.test(mediaType) ? JSON.parse(res.text) : res.text;
    expectValid(`${responsePtr}/content/${escapePointer(mediaType)}/schema`, payload, `${where}: body`);
  }

  // Query parameters: every one sent must be declared; on success its value must fit the declared schema.
  const params = parametersOf(o);
  const ok = res.status >= 200 && res.status < 300;
  for (const [name, raw] of parsed.searchParams) {
    const param = params.find((p) => p.node.in === 'query' && p.node.name === name);
    if (!param) throw new Error(`${where}: query parameter "${name}" is not declared for ${o.key}`);
    if (ok) {
      const value = param.node.schema?.type === 'integer' && /^-?\d+$/.test(raw) ? Number(raw) : raw;
      expectValid(`${param.ptr}/schema`, value, `${where}: query parameter ${name}`);
    }
  }
  for (const p of params.filter((p) => p.node.in === 'path')) {
    if (!o.template.includes(`{${p.node.name}}`)) throw new Error(`${o.key}: path parameter ${p.node.name} unused`);
  }

  // A request the server accepted must be one the spec accepts.
  if (ok && o.op.requestBody) {
    const body = follow(`${o.ptr}/requestBody`);
    if (opts.body === undefined) {
      if (body.node.required) throw new Error(`${where}: accepted without the body the spec requires`);
    } else {
      const mediaType = opts.contentType ?? 'application/scim+json';
      if (!body.node.content[mediaType]) throw new Error(`${where}: request media type ${mediaType} not declared`);
      expectValid(`${body.ptr}/content/${escapePointer(mediaType)}/schema`, opts.body, `${where}: request body`);
    }
  }
}

// ---- the app's own route table ------------------------------------------------------------------------------

interface AppRoute {
  method: Method;
  path: string;
}

/** The handler mounted at `/tenants/:tenant` hands each request to that tenant's own router. */
const TENANT_MOUNT = /:tenant\b/;

/**
 * Every route and path-mounted handler express would dispatch to, with `:param` written as `{param}`. The
 * tenant dispatcher (`/tenants/:tenant`) is a plain handler: behind it are the routers of `service`'s tenants,
 * walked one by one (tenants differ in what they are configured with, e.g. security events).
 */
function appRoutes(service: Service = h.service): AppRoute[] {
  const routes = new Map<string, AppRoute>();
  const add = (method: Method, p: string) => {
    const path = p.replace(/:(\w+)/g, '{$1}') || '/';
    routes.set(`${method} ${path}`, { method, path });
  };
  const join = (prefix: string, p: string) => (p === '/' ? prefix : `${prefix}${p}`).replace(/\$$/, '');
  const walk = (stack: any[], prefix: string) => {
    for (const layer of stack) {
      if (layer.route) {
        for (const m of Object.keys(layer.route.methods)) {
          if ((METHODS as readonly string[]).includes(m)) add(m as Method, join(prefix, layer.route.path));
        }
      } else if (Array.isArray(layer.handle?.stack)) {
        walk(layer.handle.stack, join(prefix, String(layer.rawPath)));
      } else if (typeof layer.rawPath === 'string' && TENANT_MOUNT.test(layer.rawPath)) {
        for (const tenant of service.tenants()) walk(tenant.routes.stack, join(prefix, layer.rawPath));
      } else if (typeof layer.rawPath === 'string' && layer.rawPath !== '/') {
        for (const m of METHODS) add(m, join(prefix, layer.rawPath));
      }
    }
  };
  walk((service.app as any).router.stack, '');
  return [...routes.values()];
}

/** Operations mounted only when configured (SCIM_EVENTS_RECEIVERS): checked on a server that has them. */
const configuredOnly = (o: SpecOperation) => o.template.startsWith('/scim/v2/Events');
/** The routes of the fully configured server, recorded where it runs, for the drift checks at the end. */
const configuredRoutes = new Set<string>();

/** Routes for people, not machines (HTML with their own sign-in; docs/operations/status.md; test/status). */
const isStatusPage = (p: string) => /^(\/tenants\/\{tenant\})?\/status(\/|$)/.test(p);

/** A URL for `template` (a full path) that names things that exist: `ids` for the resources, `tenant`. */
function concrete(template: string, ids: { tenant: string; user: string; group: string }): string {
  return template
    .replace('{tenant}', ids.tenant)
    .replace('/Users/{id}', `/Users/${ids.user}`)
    .replace('/Groups/{id}', `/Groups/${ids.group}`)
    .replace('/ResourceTypes/{id}', '/ResourceTypes/User')
    .replace('/Schemas/{id}', `/Schemas/${CORE_USER}`)
    .replace(/\{[^}]+\}/g, '1');
}

/**
 * Requests `service` would dispatch to a handler that the spec does not describe: its routes outside the spec
 * (scimmy-routers' /Bulk, /Me, the root /.search, …), and the methods the spec does not declare on the paths
 * it does describe. Status pages are left out (see isStatusPage).
 */
function undescribedRequests(
  service: Service,
  ids: { tenant: string; user: string; group: string },
): Map<string, { method: Method; url: string }> {
  const probes = new Map<string, { method: Method; url: string }>();
  for (const r of appRoutes(service)) {
    if (isStatusPage(r.path)) continue;
    const url = concrete(r.path, ids);
    if (!findOperation(r.method, new URL(url, 'http://localhost').pathname))
      probes.set(`${r.method} ${url}`, { method: r.method, url });
  }
  for (const o of operations) {
    for (const { full } of o.locations) {
      for (const method of METHODS) {
        const url = concrete(full, ids);
        if (!findOperation(method, url)) probes.set(`${method} ${url}`, { method, url });
      }
    }
  }
  return probes;
}

/** Sends each probe with `token`; returns those answered 2xx. Every other answer must be a SCIM error. */
async function answered2xx(
  service: Service,
  probes: Iterable<{ method: Method; url: string }>,
  token: string,
): Promise<string[]> {
  const errorSchema = pointer('components', 'schemas', 'ScimError');
  const succeeded: string[] = [];
  for (const { method, url } of probes) {
    const req = request(service.app)[method](url).set('Authorization', `Bearer ${token}`);
    const res = await (['post', 'put', 'patch'].includes(method)
      ? req.set('Content-Type', 'application/scim+json').send('{}')
      : req);
    if (res.status >= 200 && res.status < 300) succeeded.push(`${method.toUpperCase()} ${url} → ${res.status}`);
    else {
      expect(res.headers['content-type']).toMatch(/^application\/scim\+json/);
      expectValid(errorSchema, JSON.parse(res.text), `${method.toUpperCase()} ${url} → ${res.status}`);
      expect(res.body.status).toBe(String(res.status));
    }
  }
  return succeeded;
}

// ---- the suite ----------------------------------------------------------------------------------------------

describe('openapi/openapi.yaml describes the running server', () => {
  beforeAll(async () => {
    h = await startHarness({
      env: { SCIM_MAX_BODY_BYTES: '65536', KIT_MAX_WAIT_MS: '300', KIT_TIMEOUT_MS: '1000' },
    });
    h.sandbox.store.seedSubscribers(5);
  });
  afterAll(() => h.close());

  describe('the document', () => {
    it('is OpenAPI 3.1 with unique operation ids, resolvable references and compilable schemas', () => {
      expect(spec.openapi).toMatch(/^3\.1\.\d+$/);
      expect(operations.map((o) => o.key).sort()).toEqual(
        [
          'GET /healthz',
          'GET /readyz',
          'GET /metrics',
          'GET /tenants/{tenant}/readyz',
          'GET /tenants/{tenant}/metrics',
          'GET /scim/v2/ServiceProviderConfig',
          'GET /scim/v2/serviceConfiguration',
          'GET /scim/v2/ResourceTypes',
          'GET /scim/v2/ResourceTypes/{id}',
          'GET /scim/v2/Schemas',
          'GET /scim/v2/Schemas/{id}',
          'POST /scim/v2/.search',
          'POST /scim/v2/Events',
          'GET /scim/v2/Events/jwks.json',
          'GET /status',
          'GET /status/login',
          'POST /status/login',
          'POST /status/logout',
          'POST /kit/webhooks/{secret}/{event}',
          ...['Users', 'Groups'].flatMap((r) => [
            `GET /scim/v2/${r}`,
            `POST /scim/v2/${r}`,
            `POST /scim/v2/${r}/.search`,
            `GET /scim/v2/${r}/{id}`,
            `PUT /scim/v2/${r}/{id}`,
            `PATCH /scim/v2/${r}/{id}`,
            `DELETE /scim/v2/${r}/{id}`,
          ]),
        ].sort(),
      );
      const ids = operations.map((o) => o.op.operationId);
      expect(ids.every((id) => typeof id === 'string' && id.length > 0)).toBe(true);
      expect(new Set(ids).size).toBe(ids.length);
      const refs: string[] = [];
      const collect = (node: unknown) => {
        if (Array.isArray(node)) node.forEach(collect);
        else if (node && typeof node === 'object') {
          for (const [k, v] of Object.entries(node)) {
            if (k === '$ref' && typeof v === 'string') refs.push(v);
            else collect(v);
          }
        }
      };
      collect(spec);
      expect(refs.length).toBeGreaterThan(50);
      for (const ref of refs) expect(() => at(ref)).not.toThrow();
      for (const name of Object.keys(spec.components.schemas)) validatorFor(pointer('components', 'schemas', name));
      for (const o of operations) {
        expect(Object.keys(o.op.responses).length).toBeGreaterThan(0);
        for (const p of parametersOf(o).filter((p) => p.node.in === 'path')) expect(p.node.required).toBe(true);
        for (const name of o.template.match(/\{[^}]+\}/g) ?? []) {
          expect(parametersOf(o).map((p) => `{${p.node.name}}`)).toContain(name);
        }
      }
    });

    it('serves the SCIM API at the root and at /tenants/{tenant}, everything else at the root only', () => {
      expect(spec.servers.map((s: { url: string }) => basePath(s.url))).toEqual(['', '/tenants/{tenant}']);
      // Every server variable is defined, with a default (the tenant without a tenants file).
      for (const server of spec.servers) {
        for (const [, name] of String(server.url).matchAll(/\{([^}]+)\}/g)) {
          expect(server.variables?.[name]?.default).toEqual(expect.any(String));
        }
      }
      expect(spec.servers[1].variables.tenant.default).toBe('default');
      for (const o of operations) {
        const bases = o.locations.map((l) => l.base);
        if (o.template.startsWith('/scim/v2/') || isStatusPage(o.template))
          expect(bases).toEqual(['', '/tenants/{tenant}']);
        else expect({ [o.key]: bases }).toEqual({ [o.key]: [''] });
      }
      // No two operations share a method and a full path.
      const served = operations.flatMap((o) => o.locations.map((l) => `${o.method} ${normalized(l.full)}`));
      expect(new Set(served).size).toBe(served.length);
      // A tenant's own paths: its readiness without a credential, and a 404 for a tenant that does not exist.
      const tenantPaths = operations.filter((o) => o.template.startsWith('/tenants/{tenant}/'));
      expect(tenantPaths.map((o) => o.key).sort()).toEqual([
        'GET /tenants/{tenant}/metrics',
        'GET /tenants/{tenant}/readyz',
      ]);
      for (const o of tenantPaths) expect(Object.keys(o.op.responses)).toContain('404');
      expect(spec.paths['/tenants/{tenant}/readyz'].get.security).toEqual([]);
      // Another tenant's credential, like a tenant that does not exist, is 404 on every tenant-served operation.
      for (const o of operations.filter((o) => o.locations.some((l) => l.full.startsWith('/tenants/')))) {
        expect({ [o.key]: Object.keys(o.op.responses) }).toEqual({ [o.key]: expect.arrayContaining(['404']) });
      }
      expect(spec.components.securitySchemes.bearer.description).toMatch(/another tenant[^.]*\*\*404\*\*/i);
      expect(spec.components.responses.NotFound.description).toMatch(/credential of another tenant/);
    });

    it('declares the SCIM media type, bearer security and the error statuses the server uses', () => {
      expect(spec.components.securitySchemes.bearer).toMatchObject({ type: 'http', scheme: 'bearer' });
      expect(spec.security).toEqual([{ bearer: [] }]);
      // Security events speak RFC 8936, with the receivers' own tokens and errors (checked in their own block).
      const isEvents = (o: SpecOperation) => o.template.startsWith('/scim/v2/Events');
      for (const o of operations.filter((o) => o.template.startsWith('/scim/v2') && !isEvents(o))) {
        expect(o.op.security).toBeUndefined();
        expect(Object.keys(o.op.responses)).toEqual(expect.arrayContaining(['401', '500', '503']));
        for (const status of Object.keys(o.op.responses)) {
          const { node } = follow(`${o.ptr}/responses/${status}`);
          if (node.content) expect(Object.keys(node.content)).toEqual(['application/scim+json']);
        }
      }
      const write = operations.filter((o) => o.template.startsWith('/scim/v2/') && ['put', 'patch'].includes(o.method));
      for (const o of write) expect(Object.keys(o.op.responses)).toEqual(expect.arrayContaining(['400', '403', '404']));
      const header = (response: string, name: string) =>
        follow(pointer('components', 'responses', response, 'headers', name));
      expect(header('Unauthorized', 'WWW-Authenticate').node.required).toBe(true);
      expect(header('TooManyRequests', 'Retry-After').node.required).toBe(true);
      expect(header('ServiceUnavailable', 'Retry-After').node.required).toBe(true);
      for (const o of operations.filter((o) => o.method === 'post' && o.op.responses['201'])) {
        expect(follow(`${o.ptr}/responses/201/headers/Location`).node.required).toBe(true);
      }
      expect(spec.paths['/healthz'].get.security).toEqual([]);
      expect(spec.paths['/readyz'].get.security).toEqual([]);
      expect(spec.paths['/tenants/{tenant}/readyz'].get.security).toEqual([]);
      expect(Object.keys(spec.paths['/scim/v2/Groups/{id}'].patch.responses)).toContain('204');
      expect(Object.keys(spec.paths['/scim/v2/Groups/{id}'].patch.responses)).not.toContain('200');
      expect(Object.keys(spec.paths['/scim/v2/Users/{id}'].patch.responses)).toContain('200');
      expect(spec.info.description).toMatch(/reactivat/i);
    });

    it('has schemas strict enough to reject wrong answers (negative controls)', () => {
      const s = (name: string) => pointer('components', 'schemas', name);
      const user = {
        schemas: [CORE_USER],
        id: '1',
        userName: 'a@example.com',
        active: true,
        emails: [{ value: 'a@example.com', type: 'work', primary: true }],
      };
      expect(isValid(s('User'), user)).toBe(true);
      expect(isValid(s('User'), { ...user, active: 'true' })).toBe(false);
      expect(isValid(s('User'), { ...user, id: 1 })).toBe(false);
      expect(isValid(s('User'), { ...user, phoneNumbers: [] })).toBe(false);
      expect(
        isValid(s('User'), { ...user, 'urn:ietf:params:scim:schemas:extension:kit:2.0:User': { state: 'x' } }),
      ).toBe(false);
      const { id: _id, ...noId } = user;
      expect(isValid(s('User'), noId)).toBe(false);
      const error = { schemas: ['urn:ietf:params:scim:api:messages:2.0:Error'], status: '400', detail: 'x' };
      expect(isValid(s('Error400'), { ...error, scimType: 'invalidFilter' })).toBe(true);
      expect(isValid(s('Error400'), error)).toBe(false);
      expect(isValid(s('Error400'), { ...error, status: 400, scimType: 'invalidFilter' })).toBe(false);
      expect(isValid(s('Error409'), { ...error, status: '409', scimType: 'invalidValue' })).toBe(false);
      expect(isValid(s('Error404'), { ...error, status: '404', scimType: 'noTarget' })).toBe(false);
      expect(isValid(s('Error404'), { ...error, status: '401' })).toBe(false);
      const list = { schemas: ['urn:ietf:params:scim:api:messages:2.0:ListResponse'], startIndex: 1, itemsPerPage: 0 };
      expect(isValid(s('UserListResponse'), { ...list, totalResults: 0, Resources: [] })).toBe(true);
      expect(isValid(s('UserListResponse'), { ...list, Resources: [] })).toBe(false);
      expect(isValid(s('UserListResponse'), { ...list, totalResults: 1, Resources: [{ userName: 'x' }] })).toBe(false);
      expect(isValid(s('Group'), { id: '1', displayName: 'x', members: [{ value: '1', type: 'Group' }] })).toBe(false);
      expect(isValid(s('PatchOp'), patch({ op: 'Replace', path: 'active', value: 'False' }))).toBe(true);
      expect(isValid(s('PatchOp'), patch({ op: 'merge', path: 'active', value: false }))).toBe(false);
      // A tenant's readiness has no `tenants`; the process's always lists at least one.
      const checks = { kit: { ok: true, since: '2026-11-30T00:00:00.000Z' } };
      const ready = { status: 'ok', shuttingDown: false, checks };
      expect(isValid(s('ReadinessReport'), ready)).toBe(true);
      expect(isValid(s('ReadinessReport'), { ...ready, tenants: {} })).toBe(false);
      // Whether the built-in sandbox stands in for Kit: a tenant may say, the process and each tenant entry must.
      expect(isValid(s('ReadinessReport'), { ...ready, sandbox: true })).toBe(true);
      expect(isValid(s('ReadinessReport'), { ...ready, sandbox: 'yes' })).toBe(false);
      const processReport = {
        ...ready,
        sandbox: false,
        tenants: { a: { status: 'unavailable', sandbox: false, checks } },
      };
      expect(isValid(s('ProcessReadinessReport'), processReport)).toBe(true);
      expect(isValid(s('ProcessReadinessReport'), { ...processReport, sandbox: undefined })).toBe(false);
      expect(
        isValid(s('ProcessReadinessReport'), { ...processReport, tenants: { a: { status: 'unavailable', checks } } }),
      ).toBe(false);
      expect(isValid(s('ProcessReadinessReport'), ready)).toBe(false);
      expect(isValid(s('ProcessReadinessReport'), { ...ready, tenants: {} })).toBe(false);
      expect(isValid(s('ProcessReadinessReport'), { ...ready, tenants: { a: { status: 'down', checks } } })).toBe(
        false,
      );
      expect(isValid(s('ProcessReadinessReport'), { ...ready, tenants: { a: ready } })).toBe(false);
    });
  });

  describe('health and metrics', () => {
    it('GET /healthz and /readyz answer without credentials', async () => {
      expect((await call('get', '/healthz', { token: null })).status).toBe(200);
      expect((await call('get', '/readyz', { token: null })).status).toBe(200);
      h.service.readiness.shuttingDown = true;
      try {
        expect((await call('get', '/readyz', { token: null })).status).toBe(503);
      } finally {
        h.service.readiness.shuttingDown = false;
      }
    });

    it('the one tenant is also at /tenants/default: its readiness, metrics and SCIM API; any other is 404', async () => {
      const all = await call('get', '/readyz', { token: null });
      expect(Object.keys(all.body.tenants)).toEqual(['default']);
      const one = await call('get', '/tenants/default/readyz', { token: null });
      expect(one.status).toBe(200);
      expect(one.body.checks).toEqual(all.body.tenants.default.checks);
      const metrics = await call('get', '/tenants/default/metrics', { token: READONLY_TOKEN });
      expect(metrics.status).toBe(200);
      expect(metrics.text).toMatch(/^# HELP /m);
      expect((await call('get', '/tenants/default/metrics', { token: null })).status).toBe(401);
      for (const url of ['/tenants/other/readyz', '/tenants/other/metrics', '/tenants/other/scim/v2/Users']) {
        const none = await call('get', url, { token: url.endsWith('readyz') ? null : TOKEN });
        expect(none.status).toBe(404);
        expect(none.body.detail).toBe('No such endpoint.');
      }
      const created = await call('post', '/tenants/default/scim/v2/Users', {
        body: oktaUser(`tenant.${unique()}@example.com`),
      });
      expect(created.status).toBe(201);
      expect(created.headers.location).toBe(`/tenants/default/scim/v2/Users/${created.body.id}`);
      expect((await call('get', `/scim/v2/Users/${created.body.id}`)).body.userName).toBe(created.body.userName);
    });

    it('GET /metrics needs a token and answers Prometheus text', async () => {
      const res = await call('get', '/metrics');
      expect(res.status).toBe(200);
      expect(res.text).toMatch(/^# HELP /m);
      expect((await call('get', '/metrics', { token: READONLY_TOKEN })).status).toBe(200);
      const denied = await call('get', '/metrics', { token: null });
      expect(denied.status).toBe(401);
    });
  });

  describe('discovery', () => {
    it('ServiceProviderConfig', async () => {
      expect((await call('get', '/scim/v2/ServiceProviderConfig')).status).toBe(200);
      const denied = await call('get', '/scim/v2/ServiceProviderConfig', { token: 'not-a-token' });
      expect(denied.status).toBe(401);
    });

    it("ServiceProviderConfig at Microsoft's reference path", async () => {
      const alias = await call('get', '/scim/v2/serviceConfiguration');
      expect(alias.status).toBe(200);
      expect(alias.body.meta.location).toMatch(/\/scim\/v2\/ServiceProviderConfig$/);
      const denied = await call('get', '/scim/v2/serviceConfiguration', { token: 'not-a-token' });
      expect(denied.status).toBe(401);
    });

    it('ResourceTypes, each by id, an unknown one, and a filter', async () => {
      const list = await call('get', '/scim/v2/ResourceTypes');
      expect(list.status).toBe(200);
      const ids = list.body.Resources.map((r: any) => r.id);
      expect(ids).toEqual(expect.arrayContaining(['User', 'Group']));
      for (const id of ids) expect((await call('get', `/scim/v2/ResourceTypes/${id}`)).status).toBe(200);
      expect((await call('get', '/scim/v2/ResourceTypes/Nope')).status).toBe(404);
      expect((await call('get', `/scim/v2/ResourceTypes?filter=${encodeURIComponent('name eq "User"')}`)).status).toBe(
        403,
      );
    });

    it('Schemas, each by id, an unknown one, and a filter', async () => {
      const list = await call('get', '/scim/v2/Schemas');
      expect(list.status).toBe(200);
      const ids: string[] = list.body.Resources.map((r: any) => r.id);
      expect(ids).toHaveLength(4);
      for (const id of ids) expect((await call('get', `/scim/v2/Schemas/${id}`)).status).toBe(200);
      expect((await call('get', '/scim/v2/Schemas/urn:nope')).status).toBe(404);
      expect((await call('get', `/scim/v2/Schemas?filter=${encodeURIComponent('id eq "x"')}`)).status).toBe(403);
    });
  });

  describe('Users', () => {
    const email = `spec.${unique()}@example.com`;
    let id: string;

    it('POST /Users creates (201 + Location), a duplicate is 409, bad input 400, a read-only token 403', async () => {
      const enterprise = { employeeNumber: '42', department: 'R&D', organization: 'Analytical Engines' };
      const body = oktaUser(email, {
        schemas: [CORE_USER, ENTERPRISE],
        externalId: 'ext-42',
        title: 'Engineer',
        [ENTERPRISE]: enterprise,
      });
      const created = await call('post', '/scim/v2/Users', { body });
      expect(created.status).toBe(201);
      id = created.body.id;
      expect(created.headers.location).toBe(created.body.meta.location);
      expect(created.body[ENTERPRISE]).toEqual(enterprise);
      const json = await call('post', '/scim/v2/Users', {
        body: oktaUser(`json.${email}`),
        contentType: 'application/json',
      });
      expect(json.status).toBe(201);

      expect((await call('post', '/scim/v2/Users', { body: oktaUser(email) })).status).toBe(409);
      expect((await call('post', '/scim/v2/Users', { body: { schemas: [CORE_USER] } })).status).toBe(400);
      expect((await call('post', '/scim/v2/Users', { raw: '{"userName": ' })).status).toBe(400);
      expect((await call('post', '/scim/v2/Users', { body: [1, 2] })).status).toBe(400);
      const ro = await call('post', '/scim/v2/Users', { body: oktaUser(`ro.${email}`), token: READONLY_TOKEN });
      expect(ro.status).toBe(403);
      const big = await call('post', '/scim/v2/Users', {
        body: oktaUser(`big.${email}`, { title: 'x'.repeat(70_000) }),
      });
      expect(big.status).toBe(413);
      // curl -d: a form content type.
      const form = await call('post', '/scim/v2/Users', {
        raw: JSON.stringify(oktaUser(`form.${email}`)),
        contentType: 'application/x-www-form-urlencoded',
      });
      expect(form.status).toBe(415);
      expect((await call('post', '/scim/v2/Users', { body: oktaUser(email), token: null })).status).toBe(401);
    });

    it('GET /Users with every list parameter, and its 400s and 401', async () => {
      expect((await call('get', '/scim/v2/Users')).status).toBe(200);
      const filtered = await call(
        'get',
        `/scim/v2/Users?filter=${encodeURIComponent(`userName eq "${email.toUpperCase()}"`)}`,
      );
      expect(filtered.body.totalResults).toBe(1);
      const page = await call('get', '/scim/v2/Users?startIndex=2&count=2&sortBy=meta.created&sortOrder=descending');
      expect(page.status).toBe(200);
      expect(page.body.itemsPerPage).toBe(2);
      expect((await call('get', '/scim/v2/Users?attributes=userName,active&count=3')).status).toBe(200);
      expect((await call('get', '/scim/v2/Users?excludedAttributes=groups,emails')).status).toBe(200);
      expect((await call('get', '/scim/v2/Users?count=0')).status).toBe(200);
      expect((await call('get', `/scim/v2/Users?filter=${encodeURIComponent('userName eq')}`)).status).toBe(400);
      expect((await call('get', '/scim/v2/Users?sortBy=userName')).status).toBe(400);
      expect((await call('get', '/scim/v2/Users?count=abc')).status).toBe(400);
      expect((await call('get', '/scim/v2/Users', { token: null })).status).toBe(401);
    });

    it('POST /Users/.search', async () => {
      const found = await call('post', '/scim/v2/Users/.search', {
        body: {
          schemas: [SEARCH],
          filter: `userName eq "${email}"`,
          startIndex: 1,
          count: 5,
          attributes: ['userName'],
        },
      });
      expect(found.status).toBe(200);
      expect(found.body.Resources).toEqual([
        { schemas: expect.arrayContaining(['urn:ietf:params:scim:schemas:core:2.0:User']), id, userName: email },
      ]);
      expect((await call('post', '/scim/v2/Users/.search')).status).toBe(200);
      const ro = await call('post', '/scim/v2/Users/.search', { body: { schemas: [SEARCH] }, token: READONLY_TOKEN });
      expect(ro.status).toBe(200);
      const bad = await call('post', '/scim/v2/Users/.search', {
        body: { schemas: [SEARCH], filter: 'userName zz 1' },
      });
      expect(bad.status).toBe(400);
    });

    it('GET /Users/{id}, with projections, and 404 for unknown ids', async () => {
      expect((await call('get', `/scim/v2/Users/${id}`)).status).toBe(200);
      expect((await call('get', `/scim/v2/Users/${id}?excludedAttributes=groups`)).status).toBe(200);
      expect((await call('get', `/scim/v2/Users/${id}?attributes=userName`)).status).toBe(200);
      expect((await call('get', '/scim/v2/Users/999999999')).status).toBe(404);
      expect((await call('get', '/scim/v2/Users/not-a-number')).status).toBe(404);
      expect((await call('get', `/scim/v2/Users/${id}?attributes=${encodeURIComponent('a b(')}`)).status).toBe(400);
    });

    it('PUT /Users/{id}: 200, 400, 403, 404, 409', async () => {
      const put = await call('put', `/scim/v2/Users/${id}`, {
        body: oktaUser(email, { id, name: { givenName: 'Augusta', familyName: 'King' } }),
      });
      expect(put.status).toBe(200);
      expect(put.body.name.givenName).toBe('Augusta');
      expect((await call('put', `/scim/v2/Users/${id}`, { body: { schemas: [CORE_USER] } })).status).toBe(400);
      expect((await call('put', '/scim/v2/Users/999999999', { body: oktaUser(email) })).status).toBe(404);
      const ro = await call('put', `/scim/v2/Users/${id}`, { body: oktaUser(email), token: READONLY_TOKEN });
      expect(ro.status).toBe(403);
      const other = await call('post', '/scim/v2/Users', { body: oktaUser(`other.${email}`) });
      expect(other.status).toBe(201);
      expect((await call('put', `/scim/v2/Users/${other.body.id}`, { body: oktaUser(email) })).status).toBe(409);
    });

    it('PATCH /Users/{id}: 200 with the user, deactivation, 400 for reactivation and bad ops, 404', async () => {
      const renamed = await call('patch', `/scim/v2/Users/${id}`, {
        body: patch({ op: 'Replace', path: 'name.givenName', value: 'Ada' }),
      });
      expect(renamed.status).toBe(200);
      expect(renamed.body.name.givenName).toBe('Ada');
      const off = await call('patch', `/scim/v2/Users/${id}`, {
        body: patch({ op: 'replace', value: { active: 'False' } }),
      });
      expect(off.status).toBe(200);
      expect(off.body.active).toBe(false);
      const reactivate = await call('patch', `/scim/v2/Users/${id}`, {
        body: patch({ op: 'replace', path: 'active', value: true }),
      });
      expect(reactivate.status).toBe(400);
      expect(reactivate.body.scimType).toBe('mutability');
      const again = await call('post', '/scim/v2/Users', { body: oktaUser(email) });
      expect(again.status).toBe(409);
      expect(again.body.detail).toMatch(/reactivate/);
      expect(
        (await call('patch', `/scim/v2/Users/${id}`, { body: patch({ op: 'frobnicate', path: 'x' }) })).status,
      ).toBe(400);
      expect((await call('patch', `/scim/v2/Users/${id}`, { body: { Operations: [] } })).status).toBe(400);
      const missing = await call('patch', '/scim/v2/Users/999999999', {
        body: patch({ op: 'replace', path: 'displayName', value: 'x' }),
      });
      expect(missing.status).toBe(404);
      const ro = await call('patch', `/scim/v2/Users/${id}`, {
        body: patch({ op: 'replace', path: 'displayName', value: 'x' }),
        token: READONLY_TOKEN,
      });
      expect(ro.status).toBe(403);
    });

    it('DELETE /Users/{id}: 204, then 404; 403 for a read-only token', async () => {
      expect((await call('delete', `/scim/v2/Users/${id}`, { token: READONLY_TOKEN })).status).toBe(403);
      expect((await call('delete', `/scim/v2/Users/${id}`)).status).toBe(204);
      expect((await call('delete', `/scim/v2/Users/${id}`)).status).toBe(404);
      expect((await call('get', `/scim/v2/Users/${id}`)).status).toBe(404);
    });
  });

  describe('Groups', () => {
    let userId: string;
    let id: string;
    const name = `spec-group-${unique()}`;

    beforeAll(async () => {
      const user = await call('post', '/scim/v2/Users', { body: oktaUser(`member.${unique()}@example.com`) });
      expect(user.status).toBe(201);
      userId = user.body.id;
    });

    it('POST /Groups: 201 + Location, 409 for a taken name, 400 without displayName, 403 read-only', async () => {
      const created = await call('post', '/scim/v2/Groups', {
        body: { schemas: [CORE_GROUP], displayName: name, members: [{ value: userId }] },
      });
      expect(created.status).toBe(201);
      id = created.body.id;
      expect(created.headers.location).toBe(created.body.meta.location);
      expect(
        (await call('post', '/scim/v2/Groups', { body: { schemas: [CORE_GROUP], displayName: name } })).status,
      ).toBe(409);
      expect((await call('post', '/scim/v2/Groups', { body: { schemas: [CORE_GROUP] } })).status).toBe(400);
      const ro = await call('post', '/scim/v2/Groups', { body: { displayName: `${name}-ro` }, token: READONLY_TOKEN });
      expect(ro.status).toBe(403);
    });

    it('GET /Groups with every list parameter, and its 400s', async () => {
      const all = await call('get', '/scim/v2/Groups');
      expect(all.status).toBe(200);
      expect(all.body.Resources.find((g: any) => g.id === id)?.members).toEqual([
        expect.objectContaining({ value: userId, type: 'User' }),
      ]);
      const filtered = await call('get', `/scim/v2/Groups?filter=${encodeURIComponent(`displayName eq "${name}"`)}`);
      expect(filtered.body.totalResults).toBe(1);
      const page = await call(
        'get',
        '/scim/v2/Groups?startIndex=1&count=1&sortBy=displayName&sortOrder=descending&excludedAttributes=members',
      );
      expect(page.status).toBe(200);
      expect((await call('get', '/scim/v2/Groups?attributes=displayName')).status).toBe(200);
      expect((await call('get', '/scim/v2/Groups?sortBy=members')).status).toBe(400);
      expect((await call('get', `/scim/v2/Groups?filter=${encodeURIComponent('displayName zz "x"')}`)).status).toBe(
        400,
      );
      expect((await call('get', '/scim/v2/Groups', { token: null })).status).toBe(401);
    });

    it('POST /Groups/.search', async () => {
      const res = await call('post', '/scim/v2/Groups/.search', {
        body: { schemas: [SEARCH], filter: `displayName eq "${name}"`, excludedAttributes: 'members' },
      });
      expect(res.status).toBe(200);
      expect(res.body.totalResults).toBe(1);
      expect((await call('post', '/scim/v2/Groups/.search')).status).toBe(200);
    });

    it('POST /.search: users and groups in one list, and its 400 and 401', async () => {
      const res = await call('post', '/scim/v2/.search', {
        body: { schemas: [SEARCH], filter: `displayName eq "${name}"`, excludedAttributes: ['members', 'groups'] },
      });
      expect(res.status).toBe(200);
      expect(res.body.Resources.map((r: { id: string }) => r.id)).toEqual([id]);
      const all = await call('post', '/scim/v2/.search', {
        body: { schemas: [SEARCH], count: 2 },
        token: READONLY_TOKEN,
      });
      expect(all.status).toBe(200);
      expect(all.body.totalResults).toBeGreaterThan(1);
      expect((await call('post', '/scim/v2/.search')).status).toBe(200);
      expect((await call('post', '/scim/v2/.search', { body: { filter: 'displayName zz 1' } })).status).toBe(400);
      expect((await call('post', '/scim/v2/.search', { token: null })).status).toBe(401);
    });

    it('GET /Groups/{id}, and 404', async () => {
      const res = await call('get', `/scim/v2/Groups/${id}`);
      expect(res.status).toBe(200);
      expect(res.body.displayName).toBe(name);
      expect((await call('get', `/scim/v2/Groups/${id}?excludedAttributes=members`)).status).toBe(200);
      expect((await call('get', '/scim/v2/Groups/999999')).status).toBe(404);
      expect((await call('get', '/scim/v2/Groups/abc')).status).toBe(404);
    });

    it('PUT /Groups/{id}: 200 with the group, 409 for a taken name, 400, 404', async () => {
      const put = await call('put', `/scim/v2/Groups/${id}`, {
        body: { schemas: [CORE_GROUP], displayName: `${name}-renamed`, members: [] },
      });
      expect(put.status).toBe(200);
      expect(put.body.members ?? []).toEqual([]);
      const other = await call('post', '/scim/v2/Groups', { body: { displayName: `${name}-other` } });
      expect(other.status).toBe(201);
      expect((await call('put', `/scim/v2/Groups/${id}`, { body: { displayName: `${name}-other` } })).status).toBe(409);
      expect((await call('put', `/scim/v2/Groups/${id}`, { body: { schemas: [CORE_GROUP] } })).status).toBe(400);
      expect((await call('put', '/scim/v2/Groups/999999', { body: { displayName: 'x' } })).status).toBe(404);
    });

    it('PATCH /Groups/{id}: 204 (no body), 400, 404, 403', async () => {
      const add = await call('patch', `/scim/v2/Groups/${id}`, {
        body: patch({ op: 'add', path: 'members', value: [{ value: userId }] }),
      });
      expect(add.status).toBe(204);
      const members = await call('get', `/scim/v2/Groups/${id}`);
      expect(members.body.members.map((m: any) => m.value)).toEqual([userId]);
      const remove = await call('patch', `/scim/v2/Groups/${id}`, {
        body: patch({ op: 'Remove', path: `members[value eq "${userId}"]` }),
      });
      expect(remove.status).toBe(204);
      expect(
        (await call('patch', `/scim/v2/Groups/${id}`, { body: patch({ op: 'replace', path: 'nope', value: 1 }) }))
          .status,
      ).toBe(400);
      expect(
        (await call('patch', '/scim/v2/Groups/999999', { body: patch({ op: 'add', path: 'members', value: [] }) }))
          .status,
      ).toBe(404);
      const ro = await call('patch', `/scim/v2/Groups/${id}`, {
        body: patch({ op: 'add', path: 'members', value: [{ value: userId }] }),
        token: READONLY_TOKEN,
      });
      expect(ro.status).toBe(403);
    });

    it('DELETE /Groups/{id}: 204, then 404', async () => {
      expect((await call('delete', `/scim/v2/Groups/${id}`, { token: READONLY_TOKEN })).status).toBe(403);
      expect((await call('delete', `/scim/v2/Groups/${id}`)).status).toBe(204);
      expect((await call('delete', `/scim/v2/Groups/${id}`)).status).toBe(404);
      expect((await call('get', `/scim/v2/Groups/${id}`)).status).toBe(404);
    });
  });

  describe('upstream failures', () => {
    let id: string;
    beforeAll(async () => {
      const user = await call('post', '/scim/v2/Users', { body: oktaUser(`upstream.${unique()}@example.com`) });
      id = user.body.id;
    });
    afterEach(() => h.sandbox.resetFaults());
    const only = ['GET /v4/subscribers/:id'];

    it('502 when Kit rejects our own credentials', async () => {
      h.sandbox.setFaults({ failNext: 1, failStatus: 401, endpoints: only });
      expect((await call('get', `/scim/v2/Users/${id}?excludedAttributes=groups`)).status).toBe(502);
    });

    it('429 with Retry-After when Kit rate-limits longer than the request may wait', async () => {
      h.sandbox.setFaults({ failNext: 5, failStatus: 429, endpoints: only });
      expect((await call('get', `/scim/v2/Users/${id}?excludedAttributes=groups`)).status).toBe(429);
    });

    it('503 with Retry-After when Kit keeps failing', async () => {
      h.sandbox.setFaults({ errorRate: 1, endpoints: only });
      expect((await call('get', `/scim/v2/Users/${id}?excludedAttributes=groups`)).status).toBe(503);
    });
  });

  // Two Kit accounts behind one server. Its routes are checked here, while it runs; what it answers
  // counts towards the coverage checks below.
  describe('two tenants behind one server', () => {
    let kitA: KitSandbox;
    let kitB: KitSandbox;
    let service: Service;
    let close: () => Promise<void>;
    const A = tokenOf('a');
    const B = tokenOf('b');
    // Refused credentials count per client address (the failure throttle): each refusal from its own.
    let client = 0;
    const from = () => `10.18.7.${++client}`;
    const ids = { tenant: 'a', user: '1', group: '1' };

    beforeAll(async () => {
      [kitA, kitB] = await Promise.all([sandboxFor(), sandboxFor()]);
      ({ service, close } = await startTenants(
        [tenantConfig('a', kitA), tenantConfig('b', kitB)],
        processConfig(kitA, { TRUST_PROXY: 'true' }),
      ));
    });
    afterAll(async () => {
      await close();
      await Promise.all([kitA.close(), kitB.close()]);
    });

    it('GET /readyz lists each tenant; GET /tenants/{tenant}/readyz answers for one, 404 for none', async () => {
      const all = await call('get', '/readyz', { token: null, service });
      expect(all.status).toBe(200);
      expect(Object.keys(all.body.tenants).sort()).toEqual(['a', 'b']);
      expect((await call('get', '/tenants/a/readyz', { token: null, service })).status).toBe(200);
      const b = service.tenant('b')!.readiness;
      b.shuttingDown = true;
      try {
        const one = await call('get', '/tenants/b/readyz', { token: null, service });
        expect(one.status).toBe(503);
        expect(one.body).toMatchObject({ status: 'unavailable', shuttingDown: true });
        // One tenant is still ready: so is the process, and it says which is not.
        const still = await call('get', '/readyz', { token: null, service });
        expect(still.status).toBe(200);
        expect(still.body.tenants).toMatchObject({ a: { status: 'ok' }, b: { status: 'unavailable' } });
        service.tenant('a')!.readiness.shuttingDown = true;
        const none = await call('get', '/readyz', { token: null, service });
        expect(none.status).toBe(503);
        expect(none.body.tenants).toMatchObject({ a: { status: 'unavailable' }, b: { status: 'unavailable' } });
      } finally {
        b.shuttingDown = false;
        service.tenant('a')!.readiness.shuttingDown = false;
      }
      const unknown = await call('get', '/tenants/nobody/readyz', { token: null, service });
      expect(unknown.status).toBe(404);
      expect(unknown.body.detail).toBe('No such endpoint.');
    });

    it("GET /tenants/{tenant}/metrics takes the tenant's credential (another's is 404); /metrics the operator's", async () => {
      const own = await call('get', '/tenants/a/metrics', { token: A, service });
      expect(own.status).toBe(200);
      expect(own.text).toMatch(/\{[^}]*tenant="a"/);
      expect(own.text).not.toMatch(/tenant="b"/);
      const other = await call('get', '/tenants/a/metrics', { token: B, service, from: from() });
      expect(other.status).toBe(404);
      expect(other.body.detail).toBe('No such endpoint.');
      expect((await call('get', '/tenants/a/metrics', { token: null, service })).status).toBe(401);
      expect((await call('get', '/tenants/nobody/metrics', { token: A, service })).status).toBe(404);
      const all = await call('get', '/metrics', { token: OPERATOR_TOKEN, service });
      expect(all.status).toBe(200);
      expect(all.text).toMatch(/tenant="b"/);
      expect((await call('get', '/metrics', { token: A, service, from: from() })).status).toBe(401);
    });

    it("the SCIM API under /tenants/{tenant}, Locations carrying the tenant's base; /scim/v2 at the root is 404", async () => {
      const user = await call('post', '/tenants/a/scim/v2/Users', {
        body: oktaUser(`tenant-a.${unique()}@example.com`),
        token: A,
        service,
      });
      expect(user.status).toBe(201);
      expect(user.headers.location).toBe(`/tenants/a/scim/v2/Users/${user.body.id}`);
      expect(user.body.meta.location).toBe(user.headers.location);
      const group = await call('post', '/tenants/a/scim/v2/Groups', {
        body: { schemas: [CORE_GROUP], displayName: `tenant-a-${unique()}`, members: [{ value: user.body.id }] },
        token: A,
        service,
      });
      expect(group.status).toBe(201);
      expect(group.headers.location).toBe(`/tenants/a/scim/v2/Groups/${group.body.id}`);
      Object.assign(ids, { user: user.body.id, group: group.body.id });
      const read = await call('get', `/tenants/a/scim/v2/Users/${user.body.id}`, { token: A, service });
      expect(read.status).toBe(200);
      expect(read.body.groups).toEqual([expect.objectContaining({ value: group.body.id })]);
      expect((await call('get', '/tenants/b/scim/v2/ServiceProviderConfig', { token: B, service })).status).toBe(200);
      expect((await call('get', '/tenants/b/scim/v2/serviceConfiguration', { token: B, service })).status).toBe(200);
      const root = await call('get', '/scim/v2/Users', { token: A, service });
      expect(root.status).toBe(404);
      expect(root.body.detail).toContain('/tenants/{id}/scim/v2');
    });

    it("another tenant's credential, or a tenant that does not exist: 404 on every operation, never 403", async () => {
      const wrong: string[] = [];
      let attempts = 0;
      for (const o of operations) {
        for (const { full } of o.locations.filter((l) => l.full.startsWith('/tenants/{tenant}/'))) {
          if (o.op.security?.length === 0) continue; // no credential asked, none refused
          if (configuredOnly(o)) continue; // not mounted on this server
          for (const [tenant, token] of [
            ['b', A],
            ['nobody', A],
          ]) {
            const url = concrete(full, { ...ids, tenant });
            const body = ['post', 'put', 'patch'].includes(o.method) ? {} : undefined;
            const res = await call(o.method, url, { token, service, body, from: from() });
            attempts++;
            if (res.status !== 404 || res.body.detail !== 'No such endpoint.') {
              wrong.push(`${o.method.toUpperCase()} ${url} → ${res.status} ${res.body?.detail}`);
            }
          }
        }
      }
      expect(wrong).toEqual([]);
      // The 21 SCIM operations and the tenant's /metrics, each at two tenants A's credential does not open.
      expect(attempts).toBe(2 * 22);
    });

    it('every tenant path the app serves is in the spec, or answers a SCIM error and never 2xx', async () => {
      const routes = appRoutes(service);
      const tenantRoutes = new Set(
        routes.filter((r) => r.path.startsWith('/tenants/{tenant}/')).map((r) => `${r.method} ${normalized(r.path)}`),
      );
      expect(tenantRoutes.size).toBeGreaterThan(operations.length);
      // Described under a tenant, served under a tenant.
      const missing = operations.flatMap((o) =>
        o.locations
          .filter((l) => l.full.startsWith('/tenants/') && !configuredOnly(o))
          .filter((l) => !tenantRoutes.has(`${o.method} ${normalized(l.full)}`))
          .map((l) => `${o.key} at ${l.full}`),
      );
      expect(missing).toEqual([]);
      // Served under a tenant but not described: never a success.
      const probes = [...undescribedRequests(service, ids).values()].filter((p) => p.url.startsWith('/tenants/a/'));
      expect(probes.map((p) => `${p.method} ${p.url}`)).toEqual(
        expect.arrayContaining([
          'post /tenants/a/scim/v2/Bulk',
          'get /tenants/a/scim/v2/Me',
          'delete /tenants/a/readyz',
        ]),
      );
      expect(await answered2xx(service, probes, A)).toEqual([]);
    });
  });

  // Routes mounted only when configured: security events (and their keys), the Kit webhook receiver, the status
  // pages; and JWTs, whose scope decides whether they may write.
  describe('routes mounted by configuration, and JWT scopes', () => {
    const RECEIVER_TOKEN = 'receiver-token-0123456789abcdef0123';
    const WEBHOOK_SECRET = 'webhook-secret-0123456789abcdef0123456789';
    const ISSUER = 'https://idp.example.test/oauth2/default';
    const AUDIENCE = 'api://convertkit-scim';
    const HOST = 'status.test';
    let full: Harness;
    let jwks: JwksServer;
    let key: SigningKey;
    const jwt = (claims: Record<string, unknown> = {}) => {
      const now = Math.floor(Date.now() / 1000);
      return signToken(key, { iss: ISSUER, aud: AUDIENCE, sub: 'okta-client', iat: now, exp: now + 600, ...claims });
    };
    beforeAll(async () => {
      key = await signingKey('openapi-key', 'RS256');
      jwks = await startJwksServer([key]);
      full = await startHarness({
        env: {
          PUBLIC_BASE_URL: 'http://127.0.0.1:1',
          KIT_WEBHOOK_SECRET: WEBHOOK_SECRET,
          SCIM_EVENTS_RECEIVERS: `iga=${RECEIVER_TOKEN}@https://iga.example.test`,
          SCIM_EVENTS_KEY_FILE: path.join(mkdtempSync(path.join(os.tmpdir(), 'openapi-events-')), 'key.json'),
          SCIM_EVENTS_MAX_WAIT_SECONDS: '1',
          SCIM_JWT_JWKS_URL: jwks.url,
          SCIM_JWT_ISSUER: ISSUER,
          SCIM_JWT_AUDIENCE: AUDIENCE,
        },
      });
    });
    afterAll(async () => {
      await full?.close();
      await jwks?.close();
    });
    const bases = ['', '/tenants/default'];

    it('every route the fully configured app mounts is in the spec, or answers a SCIM error and never 2xx', async () => {
      const routes = appRoutes(full.service).map((r) => `${r.method} ${normalized(r.path)}`);
      for (const r of routes) configuredRoutes.add(r);
      const described = (r: string) => {
        const [method, p] = r.split(' ');
        return findOperation(method, p.replace(/\{\}/g, 'x')) !== undefined;
      };
      for (const mounted of [
        'post /scim/v2/Events',
        'get /scim/v2/Events/jwks.json',
        'post /kit/webhooks/{}/{}',
        'get /status',
        'get /status/login',
        'post /status/login',
        'post /status/logout',
        'post /tenants/{}/scim/v2/Events',
        'get /tenants/{}/scim/v2/Events/jwks.json',
      ]) {
        expect(routes).toContain(mounted);
        expect({ [mounted]: described(mounted) }).toEqual({ [mounted]: true });
      }
      const probes = undescribedRequests(full.service, { tenant: 'default', user: 'x', group: 'x' });
      expect(await answered2xx(full.service, probes.values(), TOKEN)).toEqual([]);
    });

    it('GET /scim/v2/Events/jwks.json: the public signing keys, without credentials', async () => {
      for (const base of bases) {
        const res = await call('get', `${base}/scim/v2/Events/jwks.json`, { service: full.service, token: null });
        expect(res.status).toBe(200);
      }
    });

    it("POST /scim/v2/Events: 200 with the receiver's token, 401 without, 400 for a bad body", async () => {
      const poll = { returnImmediately: true, maxEvents: 5, ack: [] };
      const json = { service: full.service, contentType: 'application/json' };
      for (const base of bases) {
        const res = await call('post', `${base}/scim/v2/Events`, { ...json, token: RECEIVER_TOKEN, body: poll });
        expect(res.status).toBe(200);
      }
      expect((await call('post', '/scim/v2/Events', { ...json, token: null, body: poll })).status).toBe(401);
      expect((await call('post', '/scim/v2/Events', { ...json, token: TOKEN, body: poll })).status).toBe(401);
      const bad = { ...json, token: RECEIVER_TOKEN, body: { ack: 'not a list' } };
      expect((await call('post', '/scim/v2/Events', bad)).status).toBe(400);
    });

    it('POST /kit/webhooks/{secret}/{event}: 204 for a delivery, 400 without a subscriber, 404 for another secret', async () => {
      const json = { service: full.service, contentType: 'application/json', token: null };
      const url = `/kit/webhooks/${WEBHOOK_SECRET}/subscriber.subscriber_activate`;
      const delivery = { subscriber: { id: 1 } };
      const first = await call('post', url, { ...json, body: delivery });
      expect([204, 503]).toContain(first.status);
      if (first.status === 503) {
        await full.service.bootstrap();
        expect((await call('post', url, { ...json, body: delivery })).status).toBe(204);
      }
      expect((await call('post', url, { ...json, raw: '[1]' })).status).toBe(400);
      expect((await call('post', '/kit/webhooks/guess/x', { ...json, body: delivery })).status).toBe(404);
    });

    it('the status pages: the form, a sign-in, the page with its cookie, a sign-out, and their refusals', async () => {
      for (const base of bases) {
        const html = { service: full.service, token: null, headers: { Host: HOST } };
        expect((await call('get', `${base}/status`, html)).status).toBe(303);
        expect((await call('get', `${base}/status/login`, html)).status).toBe(200);
        const form = { ...html, contentType: 'application/x-www-form-urlencoded' };
        const origin = { Host: HOST, Origin: `http://${HOST}` };
        const signIn = await call('post', `${base}/status/login`, {
          ...form,
          headers: origin,
          raw: `token=${READONLY_TOKEN}`,
        });
        expect(signIn.status).toBe(303);
        const cookie = String(signIn.headers['set-cookie']).split(';')[0];
        const page = await call('get', `${base}/status`, { ...html, headers: { Host: HOST, Cookie: cookie } });
        expect(page.status).toBe(200);
        expect((await call('post', `${base}/status/login`, { ...form, headers: origin, raw: 'token=' })).status).toBe(
          400,
        );
        const wrong = { ...form, headers: origin, raw: 'token=not-a-token' };
        expect((await call('post', `${base}/status/login`, wrong)).status).toBe(401);
        const forged = { ...form, headers: { Host: HOST, Origin: 'http://elsewhere.test' }, raw: 'token=x' };
        expect((await call('post', `${base}/status/login`, forged)).status).toBe(403);
        expect((await call('post', `${base}/status/logout`, { ...form, headers: origin, raw: '' })).status).toBe(303);
        expect((await call('post', `${base}/status/logout`, { ...form, raw: '' })).status).toBe(403);
      }
    });

    it('a JWT without a scope reads but cannot write; with scim:write it writes', async () => {
      const readOnly = await jwt();
      const writer = await jwt({ scope: 'openid scim:write' });
      const svc = { service: full.service };
      expect((await call('get', '/scim/v2/Users', { ...svc, token: readOnly })).status).toBe(200);
      const body = oktaUser(`jwt.${unique()}@example.com`);
      const refused = await call('post', '/scim/v2/Users', { ...svc, token: readOnly, body });
      expect(refused.status).toBe(403);
      expect(refused.headers['www-authenticate']).toMatch(/error="insufficient_scope", scope="scim:write"/);
      const narrow = await jwt({ scp: ['scim:read'] });
      expect((await call('post', '/scim/v2/Users', { ...svc, token: narrow, body })).status).toBe(403);
      expect((await call('post', '/scim/v2/Users', { ...svc, token: writer, body })).status).toBe(201);
      expect(spec.components.securitySchemes.bearer.description).toMatch(/without a scope claim[^.]*read-only/);
    });
  });

  // Runs last: the coverage checks read what every exchange above recorded.
  describe('coverage and drift', () => {
    it("exercised every operation of the spec, each with a success (2xx, or a form post's 303), at every server it names", () => {
      const missing = operations.filter((o) => !exercised.has(o.key)).map((o) => o.key);
      expect(missing).toEqual([]);
      const missingAt = operations.flatMap((o) =>
        o.locations.map((l) => `${o.method.toUpperCase()} ${l.full}`).filter((k) => !exercisedAt.has(k)),
      );
      expect(missingAt).toEqual([]);
      const noSuccess = operations
        .filter((o) => ![...(exercised.get(o.key) ?? [])].some((s) => (s >= 200 && s < 300) || s === 303))
        .map((o) => o.key);
      expect(noSuccess).toEqual([]);
    });

    it('saw every error status the spec promises at least once', () => {
      const seen = new Set([...exercised.values()].flatMap((s) => [...s]));
      for (const status of [400, 401, 403, 404, 409, 413, 415, 429, 502, 503]) expect([...seen]).toContain(status);
    });

    it('every spec operation is a route of the app, at every server it names', () => {
      const routes = new Set(appRoutes().map((r) => `${r.method} ${normalized(r.path)}`));
      expect(routes.size).toBeGreaterThan(operations.length);
      expect(configuredRoutes.size).toBeGreaterThan(routes.size);
      for (const r of configuredRoutes) routes.add(r);
      const missing = operations.flatMap((o) =>
        o.locations.filter((l) => !routes.has(`${o.method} ${normalized(l.full)}`)).map((l) => `${o.key} at ${l.full}`),
      );
      expect(missing).toEqual([]);
    });

    it("the tenant's base serves the very routes the root /scim/v2 does (one SCIM API, two bases)", () => {
      const under = (prefix: string) =>
        appRoutes()
          .filter((r) => r.path.startsWith(`${prefix}/`))
          .map((r) => `${r.method} ${r.path.slice(prefix.length)}`)
          .sort();
      const atRoot = under('/scim/v2');
      expect(atRoot).toEqual(expect.arrayContaining(['get /Users', 'patch /Groups/{id}', 'post /Bulk']));
      expect(under('/tenants/{tenant}/scim/v2')).toEqual(atRoot);
    });

    it('no route outside the spec answers 2xx, and each answers a SCIM error', async () => {
      const user = await call('post', '/scim/v2/Users', { body: oktaUser(`probe.${unique()}@example.com`) });
      const group = await call('post', '/scim/v2/Groups', { body: { displayName: `probe-${unique()}` } });
      const probes = undescribedRequests(h.service, { tenant: 'default', user: user.body.id, group: group.body.id });
      expect([...probes.keys()]).toEqual(
        expect.arrayContaining([
          'post /scim/v2/Bulk',
          'get /scim/v2/Me',
          'post /tenants/default/scim/v2/Bulk',
          'get /tenants/default/scim/v2/Me',
          'post /tenants/default/readyz',
        ]),
      );
      expect(await answered2xx(h.service, probes.values(), TOKEN)).toEqual([]);
    });
  });
});
