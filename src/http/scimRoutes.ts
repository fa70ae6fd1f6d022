import { type Request, type Response, Router } from 'express';
import type { Logger } from 'pino';
import { ScimBadRequest } from '../scim/errors';
import type { GroupDirectory } from '../scim/groups/groups';
import { parseListQuery } from '../scim/listQuery';
import { attributeFilter, renderGroup, renderUser, wantsAttribute } from '../scim/schemas';
import type { UserDirectory } from '../scim/users';
import type { AuditLog } from './audit';
import { currentScope } from './requestScope';
import { sendFailure, sendList, sendScim } from './scimResponses';

// The resource endpoints of RFC 7644 §3. scimmy-routers' own resource routes are not used for these: its list
// path re-slices pages it did not produce (so cursor-backed paging cannot pass through it) and it turns any
// non-SCIM exception into a 404, which a reconciliation engine would read as a deletion.

export interface ScimRouteDeps {
  /** Throws a 503 SCIM error while the server's start-up checks against Kit are pending. */
  services: () => { users: UserDirectory; groups: GroupDirectory };
  audit?: AuditLog;
  logger?: Logger;
}

const USER_SORTABLE = ['id', 'meta.created'] as const;
const GROUP_SORTABLE = ['id', 'displayName'] as const;

type Mutation = 'create' | 'replace' | 'patch' | 'delete';

function basepath(req: Request): string {
  return `${req.protocol}://${req.get('host')}${req.baseUrl}`;
}

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
    out[name] = value;
  }
  return out;
}

function bodyObject(req: Request): Record<string, any> {
  const body = req.body;
  if (!body || typeof body !== 'object' || Array.isArray(body)) {
    throw new ScimBadRequest('invalidSyntax', 'The request body must be a JSON object (application/scim+json).');
  }
  return body;
}

export function scimRoutes(deps: ScimRouteDeps): Router {
  const router = Router();
  const users = () => deps.services().users;

  const audited = (_req: Request, res: Response, operation: Mutation, resourceType: 'User' | 'Group') => {
    return (status: number, resourceId?: string, detail?: string) => {
      if (res.locals.skippedMembers?.length) {
        detail = `${detail ? `${detail}; ` : ''}members skipped (not users): ${res.locals.skippedMembers.join(', ')}`;
      }
      const scope = currentScope();
      deps.audit?.record({
        requestId: scope?.requestId ?? '',
        actor: (res.locals.principal?.name as string | undefined) ?? 'unknown',
        operation,
        resourceType,
        resourceId,
        outcome: status < 400 ? 'success' : 'failure',
        status,
        kitCalls: (scope?.kitCalls ?? []).map((c) => ({ endpoint: c.endpoint, status: c.status })),
        detail,
      });
    };
  };

  const listUsers = async (req: Request, res: Response, params: Record<string, unknown>) => {
    try {
      const query = parseListQuery(params, USER_SORTABLE);
      const attrs = attributeFilter(query.attributes, query.excludedAttributes);
      const list = await users().list(query, wantsAttribute('groups', query.attributes, query.excludedAttributes));
      const base = basepath(req);
      sendList(
        res,
        list.resources.map((u) => renderUser(u, base, attrs)),
        list.totalResults,
        query.startIndex,
      );
    } catch (err) {
      sendFailure(res, err, deps.logger);
    }
  };

  router.get('/Users', (req, res) => listUsers(req, res, queryParams(req)));
  router.post('/Users/.search', (req, res) => listUsers(req, res, req.body ?? {}));

  router.get('/Users/:id', async (req, res) => {
    try {
      const q = attributeParams(req);
      const user = await users().get(req.params.id, wantsAttribute('groups', q.attributes, q.excludedAttributes));
      sendScim(res, 200, renderUser(user, basepath(req), attributeFilter(q.attributes, q.excludedAttributes)));
    } catch (err) {
      sendFailure(res, err, deps.logger);
    }
  });

  router.post('/Users', async (req, res) => {
    const done = audited(req, res, 'create', 'User');
    try {
      const user = await users().create(bodyObject(req));
      const rendered = renderUser(user, basepath(req), undefined);
      sendScim(res, 201, rendered, { Location: rendered.meta.location });
      done(201, user.id);
    } catch (err) {
      done(sendFailure(res, err, deps.logger), undefined, (err as Error).message);
    }
  });

  router.put('/Users/:id', async (req, res) => {
    const done = audited(req, res, 'replace', 'User');
    try {
      const user = await users().replace(req.params.id, bodyObject(req));
      sendScim(res, 200, renderUser(user, basepath(req), undefined));
      done(200, req.params.id);
    } catch (err) {
      done(sendFailure(res, err, deps.logger), req.params.id, (err as Error).message);
    }
  });

  router.patch('/Users/:id', async (req, res) => {
    const done = audited(req, res, 'patch', 'User');
    try {
      const user = await users().patch(req.params.id, req.body);
      sendScim(res, 200, renderUser(user, basepath(req), undefined));
      done(200, req.params.id);
    } catch (err) {
      done(sendFailure(res, err, deps.logger), req.params.id, (err as Error).message);
    }
  });

  router.delete('/Users/:id', async (req, res) => {
    const done = audited(req, res, 'delete', 'User');
    try {
      await users().delete(req.params.id);
      res.status(204).end();
      done(204, req.params.id);
    } catch (err) {
      done(sendFailure(res, err, deps.logger), req.params.id, (err as Error).message);
    }
  });

  const groups = () => deps.services().groups;
  const wantsMembers = (q: { attributes?: string; excludedAttributes?: string }) =>
    wantsAttribute('members', q.attributes, q.excludedAttributes);

  const listGroups = async (req: Request, res: Response, params: Record<string, unknown>) => {
    try {
      const query = parseListQuery(params, GROUP_SORTABLE);
      const list = await groups().list(query, wantsMembers(query));
      const attrs = attributeFilter(query.attributes, query.excludedAttributes);
      const base = basepath(req);
      sendList(
        res,
        list.resources.map((g) => renderGroup(g, base, attrs)),
        list.totalResults,
        query.startIndex,
      );
    } catch (err) {
      sendFailure(res, err, deps.logger);
    }
  };

  router.get('/Groups', (req, res) => listGroups(req, res, queryParams(req)));
  router.post('/Groups/.search', (req, res) => listGroups(req, res, req.body ?? {}));

  router.get('/Groups/:id', async (req, res) => {
    try {
      const q = attributeParams(req);
      const group = await groups().get(req.params.id, wantsMembers(q));
      sendScim(res, 200, renderGroup(group, basepath(req), attributeFilter(q.attributes, q.excludedAttributes)));
    } catch (err) {
      sendFailure(res, err, deps.logger);
    }
  });

  router.post('/Groups', async (req, res) => {
    const done = audited(req, res, 'create', 'Group');
    try {
      const { group, change } = await groups().create(bodyObject(req));
      res.locals.skippedMembers = change.skipped;
      const rendered = renderGroup(group, basepath(req), undefined);
      sendScim(res, 201, rendered, { Location: rendered.meta.location });
      done(201, group.id);
    } catch (err) {
      done(sendFailure(res, err, deps.logger), undefined, (err as Error).message);
    }
  });

  router.put('/Groups/:id', async (req, res) => {
    const done = audited(req, res, 'replace', 'Group');
    try {
      const { group, change } = await groups().replace(req.params.id, bodyObject(req));
      res.locals.skippedMembers = change.skipped;
      sendScim(res, 200, renderGroup(group, basepath(req), undefined));
      done(200, req.params.id);
    } catch (err) {
      done(sendFailure(res, err, deps.logger), req.params.id, (err as Error).message);
    }
  });

  router.patch('/Groups/:id', async (req, res) => {
    const done = audited(req, res, 'patch', 'Group');
    try {
      const change = await groups().patch(req.params.id, req.body);
      res.locals.skippedMembers = change.skipped;
      // RFC 7644 §3.5.2 allows 204: answering with the group would mean reading its whole membership.
      res.status(204).end();
      done(204, req.params.id);
    } catch (err) {
      done(sendFailure(res, err, deps.logger), req.params.id, (err as Error).message);
    }
  });

  router.delete('/Groups/:id', async (req, res) => {
    const done = audited(req, res, 'delete', 'Group');
    try {
      await groups().delete(req.params.id);
      res.status(204).end();
      done(204, req.params.id);
    } catch (err) {
      done(sendFailure(res, err, deps.logger), req.params.id, (err as Error).message);
    }
  });

  return router;
}
