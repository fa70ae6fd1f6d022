import { type Request, type Response, Router } from 'express';
import type { Logger } from 'pino';
import type { PublicUrlConfig } from '../config/environment';
import { ScimBadRequest, ScimUnsupportedMediaType } from '../scim/errors';
import type { GroupDirectory } from '../scim/groups/groups';
import { quoteInput, summariseIds } from '../scim/inputLimits';
import { readFilter } from '../scim/filter';
import { type ListQuery, pagingOf, parseListQuery } from '../scim/listQuery';
import type { ResourcePage, ScimBody, ScimMeta, ScimResource, ScimUser } from '../scim/resources';
import { LIST_RESPONSE } from '../scim/resources';
import { mapInSlices } from '../scim/paging/timeSlices';
import { type RenderResource, type ResourceRenderer, resourceRenderer } from '../scim/render';
import { type AttributeDeclarations, GROUP_ATTRIBUTES, plainAttributeList, wantsAttribute } from '../scim/schemas';
import type { UserDirectory, UserWrite } from '../scim/users';
import type { AuditSink } from '../platform/audit';
import { assertIfMatch, groupVersion, headerMatches, userVersion } from './etag';
import { scimBaseUrl } from './publicUrls';
import { listResponseJson, resourceJson } from './listFragments';
import { sendDescribedFailure, sendFailure, sendScim } from './scimResponses';

// The resource endpoints of RFC 7644 §3. scimmy-routers' own resource routes are not used for these: its list
// path re-slices pages it did not produce (so cursor-backed paging cannot pass through it) and it turns any
// non-SCIM exception into a 404, which a reconciliation engine would read as a deletion.

export interface ScimRouteDeps {
  /** Throws a 503 SCIM error while the server's start-up checks against Kit are pending. */
  services: () => { users: UserDirectory; groups: GroupDirectory };
  audit?: AuditSink;
  logger?: Logger;
  /** Where resource URLs point; without it they are relative (see publicUrls.ts). */
  publicUrls?: PublicUrlConfig;
}

const USER_SORTABLE = ['id', 'meta.created'] as const;
const GROUP_SORTABLE = ['id', 'displayName'] as const;

type Mutation = 'create' | 'replace' | 'patch' | 'delete';

function queryParams(req: Request): Record<string, unknown> {
  return req.query as Record<string, unknown>;
}

/** `attributes` / `excludedAttributes` of a single-resource GET; given twice, they are a 400 rather than a crash. */
function attributeParams(req: Request): { attributes?: string; excludedAttributes?: string } {
  const params = queryParams(req);
  const out: { attributes?: string; excludedAttributes?: string } = {};
  for (const name of ['attributes', 'excludedAttributes'] as const) {
    const key = Object.keys(params).find((k) => k.toLowerCase() === name.toLowerCase());
    const value = key === undefined ? undefined : params[key];
    if (value === undefined) continue;
    if (typeof value !== 'string')
      throw new ScimBadRequest('invalidValue', `The ${name} parameter must be given once.`);
    out[name] = plainAttributeList(name, value);
  }
  return out;
}

/** The parameters of a POST /.search (RFC 7644 §3.4.3); an empty POST is a search without parameters. */
function searchParams(req: Request): Record<string, unknown> {
  return jsonBody(req) === undefined ? {} : bodyObject(req);
}

/** Search parameters less the paging ones, whatever their letter case: the root search sets its own. */
function withoutPaging(params: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(params).filter(([k]) => !['startindex', 'count'].includes(k.toLowerCase())));
}

/** One resource type's page, rendered: each resource serialised, with the type's total and its startIndex. */
interface RenderedPage {
  resources: string[];
  totalResults: number;
  startIndex: number;
  /** Set when the page was asked for by cursor (RFC 9865). */
  cursor?: { next?: string; totalResults?: number };
}

/** The `:id` route parameter. */
function idOf(req: Request): string {
  return String(req.params.id);
}

/**
 * The parsed JSON body. express.json leaves `req.body` undefined when the Content-Type is not JSON (curl -d sends
 * application/x-www-form-urlencoded): that is answered as a media-type problem, not as "not a JSON object".
 */
function jsonBody(req: Request): unknown {
  if (req.body === undefined && hasBody(req)) {
    throw new ScimUnsupportedMediaType(
      `The request body must be JSON sent with Content-Type application/scim+json (or application/json); got ${
        req.get('content-type') ? quoteInput(String(req.get('content-type')), 80) : 'no Content-Type'
      }.`,
    );
  }
  return req.body;
}

function hasBody(req: Request): boolean {
  return Number(req.get('content-length') ?? 0) > 0 || req.get('transfer-encoding') !== undefined;
}

function bodyObject(req: Request): ScimBody {
  const body = jsonBody(req);
  if (!body || typeof body !== 'object' || Array.isArray(body)) {
    throw new ScimBadRequest('invalidSyntax', 'The request body must be a JSON object (application/scim+json).');
  }
  return body as ScimBody;
}

/**
 * What a write produced: the resource to answer with (none means 204), group members it skipped, and whether it
 * changed nothing (Kit already held every value sent), which the audit record says.
 */
interface Written<R extends ScimResource> {
  resource?: R;
  skipped?: string[];
  unchanged?: boolean;
}

/** One resource type as the endpoints see it; Users and Groups differ only in these adapters. */
interface ResourceKind<R extends ScimResource> {
  type: 'User' | 'Group';
  sortable: readonly string[];
  /** The costly multi-valued attribute (User.groups, Group.members), fetched only when the client wants it. */
  costly: 'groups' | 'members';
  /** The services' own: the User schema is the one of their mapping. */
  schema(): AttributeDeclarations;
  renderer(): ResourceRenderer;
  /** The resource's weak ETag (etag.ts); undefined when what was read cannot tell. */
  version(resource: R): string | undefined;
  list(query: ListQuery, withCostly: boolean): Promise<ResourcePage<R>>;
  get(id: string, withCostly: boolean): Promise<R>;
  create(body: ScimBody): Promise<Written<R>>;
  replace(id: string, body: ScimBody): Promise<Written<R>>;
  patch(id: string, body: unknown): Promise<Written<R>>;
  delete(id: string): Promise<void>;
}

const written = (w: UserWrite): Written<ScimUser> => ({
  resource: w.user,
  ...(!w.changed && { unchanged: true }),
});

export function scimRoutes(deps: ScimRouteDeps): Router {
  const router = Router();
  const publicUrls = deps.publicUrls ?? { allowedHosts: [] };
  const basepath = (req: Request) => scimBaseUrl(req, publicUrls);
  const users = () => deps.services().users;
  const groups = () => deps.services().groups;
  const groupRenderer = resourceRenderer('Group');

  const audit = (
    res: Response,
    operation: Mutation,
    type: 'User' | 'Group',
    status: number,
    id?: string,
    detail?: string,
    scimType?: string,
  ) => {
    const skipped = res.locals.skippedMembers ?? [];
    if (skipped.length) {
      // The count and the first few ids: the audit line stays small whatever the request named.
      const { count, first } = summariseIds(skipped);
      const more = count > first.length ? ` and ${count - first.length} more` : '';
      detail = `${detail ? `${detail}; ` : ''}${count} members skipped (not users): ${first.join(', ')}${more}`;
    }
    deps.audit?.recordForRequest({
      actor: res.locals.principal?.name,
      operation,
      resourceType: type,
      resourceId: id,
      status,
      detail,
      scimType,
    });
  };

  const mount = <R extends ScimResource>(endpoint: string, kind: ResourceKind<R>) => {
    const wants = (q: { attributes?: string; excludedAttributes?: string }) =>
      wantsAttribute(kind.costly, q.attributes, q.excludedAttributes);

    /** Renders with meta.version (when the attributes asked for keep meta at all). */
    const present = (resource: R, base: string, render: RenderResource) => {
      const rendered = render(resource, base);
      const version = kind.version(resource);
      // Rendering keeps meta whenever `attributes` asks for it; it is then the resource's ScimMeta, located.
      const meta = rendered.meta as ScimMeta | undefined;
      if (version !== undefined && meta) meta.version = version;
      return { rendered, meta, version };
    };

    /** One page of this resource type, rendered. */
    const page = async (req: Request, params: Record<string, unknown>): Promise<RenderedPage> => {
      const query = parseListQuery(params, kind.sortable, kind.schema());
      const render = kind.renderer().prepare(query.attributes, query.excludedAttributes);
      const found = await kind.list(query, wants(query));
      const base = basepath(req);
      // Rendered in slices of time: a 1,000-user answer is tens of ms of work the first time it is made.
      const resources = await mapInSlices(found.resources, (r) =>
        resourceJson(r, base, render, () => present(r, base, render).rendered),
      );
      return { resources, totalResults: found.totalResults, startIndex: query.startIndex, cursor: found.cursor };
    };

    const list = async (req: Request, res: Response, params: Record<string, unknown>) => {
      try {
        const found = await page(req, params);
        sendScim(
          res,
          200,
          undefined,
          {},
          listResponseJson(LIST_RESPONSE, found.resources, found.totalResults, found.startIndex, found.cursor),
        );
      } catch (err) {
        sendFailure(res, err, deps.logger);
      }
    };

    const write =
      (operation: Mutation, status: number, run: (req: Request) => Promise<Written<R>>) =>
      async (req: Request, res: Response) => {
        const id = req.params.id === undefined ? undefined : idOf(req);
        try {
          const ifMatch = req.get('If-Match');
          if (ifMatch !== undefined && id !== undefined) {
            // RFC 7644 §3.14: checked before anything is written. Kit has no conditional writes, so this is a
            // read (a group's with its members) just before the write, not an atomic compare-and-set.
            const current = await kind.get(id, kind.type === 'Group');
            assertIfMatch(ifMatch, kind.version(current), `${kind.type} ${id}`);
          }
          const out = await run(req);
          res.locals.skippedMembers = out.skipped;
          if (out.resource) {
            const { rendered, meta, version } = present(out.resource, basepath(req), kind.renderer().prepare());
            const headers: Record<string, string> = version ? { ETag: version } : {};
            if (operation === 'create' && meta?.location) headers.Location = meta.location;
            sendScim(res, status, rendered, headers);
          } else {
            // RFC 7644 §3.5.2 allows 204 (a group PATCH answering with the group would read its whole membership).
            res.status(204).end();
          }
          const said = out.unchanged ? 'no change: Kit already held every value sent' : undefined;
          audit(res, operation, kind.type, out.resource ? status : 204, id ?? out.resource?.id, said);
        } catch (err) {
          // The audit trail keeps what the client was told (the SCIM error's scimType and detail).
          const told = sendDescribedFailure(res, err, deps.logger);
          audit(res, operation, kind.type, told.status, id, told.detail, told.scimType);
        }
      };

    router.get(endpoint, (req, res) => list(req, res, queryParams(req)));
    router.post(`${endpoint}/.search`, (req, res) => {
      let params: Record<string, unknown>;
      try {
        params = searchParams(req);
      } catch (err) {
        sendFailure(res, err, deps.logger);
        return;
      }
      return list(req, res, params);
    });
    router.get(`${endpoint}/:id`, async (req, res) => {
      try {
        const q = attributeParams(req);
        // Checked before the Kit read, though applied when rendering.
        const render = kind.renderer().prepare(q.attributes, q.excludedAttributes);
        const resource = await kind.get(idOf(req), wants(q));
        const { rendered, version } = present(resource, basepath(req), render);
        const ifNoneMatch = req.get('If-None-Match');
        if (version !== undefined && ifNoneMatch !== undefined && headerMatches(ifNoneMatch, version)) {
          // RFC 7232 §4.1: a 304 carries the ETag, and no body.
          res.setHeader('ETag', version);
          res.status(304).end();
          return;
        }
        sendScim(res, 200, rendered, version ? { ETag: version } : {});
      } catch (err) {
        sendFailure(res, err, deps.logger);
      }
    });
    router.post(
      endpoint,
      write('create', 201, (req) => kind.create(bodyObject(req))),
    );
    router.put(
      `${endpoint}/:id`,
      write('replace', 200, (req) => kind.replace(idOf(req), bodyObject(req))),
    );
    router.patch(
      `${endpoint}/:id`,
      write('patch', 200, (req) => kind.patch(idOf(req), jsonBody(req))),
    );
    router.delete(
      `${endpoint}/:id`,
      write('delete', 204, async (req) => {
        await kind.delete(idOf(req));
        return {};
      }),
    );
    return page;
  };

  const userPages = mount('/Users', {
    type: 'User',
    sortable: USER_SORTABLE,
    costly: 'groups',
    schema: () => users().schema,
    renderer: () => resourceRenderer(users().schema),
    version: userVersion,
    list: (query, withGroups) => users().list(query, withGroups),
    get: (id, withGroups) => users().get(id, withGroups),
    create: async (body) => ({ resource: await users().create(body) }),
    replace: async (id, body) => written(await users().replaceReporting(id, body)),
    patch: async (id, body) => written(await users().patchReporting(id, body)),
    delete: (id) => users().delete(id),
  });

  const groupPages = mount('/Groups', {
    type: 'Group',
    sortable: GROUP_SORTABLE,
    costly: 'members',
    schema: () => GROUP_ATTRIBUTES,
    renderer: () => groupRenderer,
    version: groupVersion,
    list: (query, withMembers) => groups().list(query, withMembers),
    get: (id, withMembers) => groups().get(id, withMembers),
    create: async (body) => {
      const { group, change } = await groups().create(body);
      return { resource: group, skipped: change.skipped };
    },
    replace: async (id, body) => {
      const { group, change } = await groups().replace(id, body);
      return { resource: group, skipped: change.skipped };
    },
    patch: async (id, body) => ({ skipped: (await groups().patch(id, body)).skipped }),
    delete: (id) => groups().delete(id),
  });

  // RFC 7644 §3.4.3: a search at the root covers every resource type, Users first, then Groups, paged as one
  // list. Each type is read by its own listing path (the same Kit calls as /Users/.search and /Groups/.search);
  // a type whose schema lacks an attribute the filter compares is not read at all (its resources never carry
  // that attribute, so a comparison on it matches none of them), and `userName eq "…"` costs no group listing.
  // A filter naming an attribute of neither type is refused as it is on the types' own endpoints.
  router.post('/.search', async (req, res) => {
    try {
      const params = searchParams(req);
      // Users and Groups are two Kit walks with no common cursor: one list across both pages by index only.
      if (Object.keys(params).some((k) => k.toLowerCase() === 'cursor'))
        throw new ScimBadRequest(
          'invalidValue',
          'The root search pages by startIndex; page /Users or /Groups by cursor.',
        );
      const filterText = params[Object.keys(params).find((k) => k.toLowerCase() === 'filter') ?? ''];
      const compared = typeof filterText === 'string' ? readFilter(filterText).attributes : [];
      const kinds = [
        { pages: userPages, schema: users().schema },
        { pages: groupPages, schema: GROUP_ATTRIBUTES },
      ].filter((k) => compared.every((path) => k.schema.attribute(path) !== undefined));
      // None fits: the Users endpoint's own refusal names the attribute.
      const searched = kinds.length > 0 ? kinds : [{ pages: userPages, schema: users().schema }];
      const { startIndex, count } = pagingOf(params);
      const resources: string[] = [];
      let totalResults = 0;
      for (const { pages } of searched) {
        // This type's part of the window: what the types before it did not fill, from where they ended.
        const part = await pages(req, {
          ...withoutPaging(params),
          startIndex: Math.max(1, startIndex - totalResults),
          count: Math.max(0, count - resources.length),
        });
        resources.push(...part.resources);
        totalResults += part.totalResults;
      }
      sendScim(res, 200, undefined, {}, listResponseJson(LIST_RESPONSE, resources, totalResults, startIndex));
    } catch (err) {
      sendFailure(res, err, deps.logger);
    }
  });

  return router;
}
