import { DEFAULT_COUNT, MAX_COUNT } from '../scim/listQuery';
import { CURSOR_TIMEOUT_SECONDS } from '../scim/paging/pageCursors';
import { type Request, type Response, Router } from 'express';
import type { Logger } from 'pino';
import type { PublicUrlConfig } from '../config/environment';
import type { KitCapabilities } from '../kit/api';
import { ScimForbidden } from '../scim/errors';
import type { ScimBody } from '../scim/resources';
import { resourceTypeById, resourceTypeList, schemaById, schemaList } from '../scim/schemaDescriptions';
import { wantsAttribute } from '../scim/schemas';
import { readRegistry } from '../scim/scimmy';
import { authenticationSchemes } from '../scim/scimmyGlobals';
import type { UserSchema } from '../scim/userSchema';
import { scimBaseUrl } from './publicUrls';
import { sendFailure, sendList, sendScim } from './scimResponses';

// Discovery (RFC 7644 §4): /ServiceProviderConfig, /ResourceTypes, /Schemas. scimmy describes them; these
// routes answer them so that meta.location follows the same rule as every resource's (publicUrls.ts), per
// request (scimmy keeps its basepath in module state shared by concurrent requests), and so that a list's
// itemsPerPage is the number of resources it holds (scimmy reports its default page size, 20).

/** A discovery resource as scimmy renders it (a schema, a resource type, the service provider config). */
type Resource = ScimBody & { meta?: ScimBody };

function plain(value: unknown): Resource {
  return JSON.parse(JSON.stringify(value)) as Resource;
}

/** A ListResponse (RFC 7644 §3.4.2) of discovery resources as scimmy renders it. */
type Listed = { Resources?: Resource[]; totalResults?: number; startIndex?: number };

const GROUP_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:Group';

/**
 * scimmy's schemas are process-wide; what one Kit backend cannot do is said per app here. Without tag renames
 * (Kit v3) a group's displayName is set at creation and never changed: `immutable` (RFC 7643 §7).
 */
function truthfulSchema(resource: Resource, caps?: KitCapabilities): Resource {
  if (!caps || caps.tagRename || resource.id !== GROUP_SCHEMA || !Array.isArray(resource.attributes)) return resource;
  return {
    ...resource,
    attributes: resource.attributes.map((a: ScimBody) =>
      a.name === 'displayName' ? { ...a, mutability: 'immutable' } : a,
    ),
  };
}

/**
 * RFC 9865 §4 (ServiceProviderConfig `pagination`): index paging always; cursor paging over Kit v4's own
 * cursors (Kit v3 has none). Index stays the default, so a client that knows only RFC 7644 sees no change.
 */
function paginationCapabilities(cursor: boolean): Record<string, unknown> {
  return {
    cursor,
    index: true,
    defaultPaginationMethod: 'index',
    defaultPageSize: DEFAULT_COUNT,
    maxPageSize: MAX_COUNT,
    ...(cursor ? { cursorTimeout: CURSOR_TIMEOUT_SECONDS } : {}),
  };
}

export function discoveryRoutes(deps: {
  publicUrls: PublicUrlConfig;
  logger?: Logger;
  jwt?: boolean;
  kitCapabilities?: KitCapabilities;
  /** A ServiceProviderConfig extension advertising security events (src/events/discovery.ts). */
  serviceProviderExtension?: (
    scimRoot: string,
  ) => { schema: string; value: Record<string, unknown>; core?: Record<string, unknown> } | undefined;
  /**
   * The services being served: the User schema and resource type are their mapping's. Without them,
   * scimmy's process-wide registry answers (scimmyGlobals.ts), which holds one mapping for the whole process.
   */
  services?: () => { users: { readonly schema: UserSchema } };
}): Router {
  const router = Router();
  const located = (req: Request, resource: Resource, path: string): Resource => ({
    ...truthfulSchema(resource, deps.kitCapabilities),
    meta: { ...resource.meta, location: `${scimBaseUrl(req, deps.publicUrls)}${path}` },
  });
  // The query parser is 'simple' and checkAttributeParams ran first: every value is a string.
  const query = (req: Request) => req.query as Record<string, string | undefined>;

  const list = (endpoint: string, read: (req: Request) => Promise<unknown>, idOf: (r: Resource) => string) => {
    router.get(endpoint, async (req: Request, res: Response) => {
      try {
        const found = plain(await read(req)) as Listed;
        const resources: Resource[] = (found.Resources ?? []).map((r) => located(req, r, `${endpoint}/${idOf(r)}`));
        sendList(res, resources, found.totalResults ?? resources.length, found.startIndex ?? 1);
      } catch (err) {
        sendFailure(res, err, deps.logger);
      }
    });
  };
  const one = (endpoint: string, read: (req: Request) => Promise<unknown>, idOf: (r: Resource) => string) => {
    router.get(`${endpoint}/:id`, async (req: Request, res: Response) => {
      try {
        const found = plain(await read(req));
        sendScim(res, 200, located(req, found, `${endpoint}/${idOf(found)}`));
      } catch (err) {
        sendFailure(res, err, deps.logger);
      }
    });
  };

  const services = deps.services;
  const userSchema = services && (() => services().users.schema);
  list(
    '/Schemas',
    userSchema ? async (req) => schemaList(userSchema(), query(req)) : (req) => readRegistry('Schema', query(req)),
    (r) => String(r.id),
  );
  one(
    '/Schemas',
    userSchema
      ? async (req) => schemaById(userSchema(), String(req.params.id), query(req))
      : (req) => readRegistry('Schema', query(req), String(req.params.id)),
    (r) => String(r.id),
  );
  list(
    '/ResourceTypes',
    userSchema
      ? async (req) => resourceTypeList(userSchema(), query(req))
      : (req) => readRegistry('ResourceType', query(req)),
    (r) => String(r.name),
  );
  one(
    '/ResourceTypes',
    userSchema
      ? async (req) => resourceTypeById(userSchema(), String(req.params.id), query(req))
      : (req) => readRegistry('ResourceType', query(req), String(req.params.id)),
    (r) => String(r.name),
  );

  const serviceProviderConfig = async (req: Request, res: Response) => {
    // RFC 7644 §4: filtering service provider configuration endpoints is not supported.
    if (query(req).filter !== undefined) {
      sendFailure(res, new ScimForbidden('ServiceProviderConfig does not support filter.'));
      return;
    }
    try {
      const config = plain(await readRegistry('ServiceProviderConfig', query(req)));
      // This app's own schemes: scimmy's configuration is shared by every app in the process.
      const q = query(req);
      if (wantsAttribute('authenticationSchemes', q.attributes, q.excludedAttributes))
        config.authenticationSchemes = authenticationSchemes({ jwt: Boolean(deps.jwt) });
      if (wantsAttribute('pagination', q.attributes, q.excludedAttributes)) {
        config.pagination = paginationCapabilities(deps.kitCapabilities?.cursorPaging !== false);
      }
      const extension = deps.serviceProviderExtension?.(scimBaseUrl(req, deps.publicUrls));
      if (extension) {
        // Attributes a later RFC adds to the core schema (RFC 9967 §4), under attributes/excludedAttributes.
        for (const [name, value] of Object.entries(extension.core ?? {}))
          if (wantsAttribute(name, q.attributes, q.excludedAttributes)) config[name] = value;
        config.schemas = [...((config.schemas as string[] | undefined) ?? []), extension.schema];
        config[extension.schema] = extension.value;
      }
      sendScim(res, 200, located(req, config, '/ServiceProviderConfig'));
    } catch (err) {
      sendFailure(res, err, deps.logger);
    }
  };
  router.get('/ServiceProviderConfig', serviceProviderConfig);
  // Microsoft's SCIM reference collection (AzureAD/SCIMReferenceCode) reads the configuration at
  // `/serviceConfiguration`, the path of its early reference server; RFC 7644 §4 names only
  // `/ServiceProviderConfig`. The same read-only document answers both, and its meta.location names the RFC's.
  router.get('/serviceConfiguration', serviceProviderConfig);
  return router;
}
