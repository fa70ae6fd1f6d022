import { z } from 'zod';
import {
  bearerTokens,
  checkTenantSettings,
  type SettingNames,
  type SettingsContext,
  tenantSettingsFields,
} from '../settings';
import { TENANT_ID_PATTERN } from './model';

// The shape of a tenants file, version 1 (tenants.example.yaml documents it). An entry is a tenant's settings
// (settings.ts, the rules the environment's tenant follows too) with its id; here are only the rules of a file's
// entry: what one entry can tell on its own. What needs several entries (unique ids and tokens, shared Kit
// budgets) or the disk (mapping files) is in tenantRules.ts and tenantConfig.ts. Every object is strict: a
// misspelt key is a problem, never a setting silently ignored.

/** A setting is named by its key; problems carry the whole key path and the line (fileProblems.ts). */
export const FILE_NAMES: SettingNames = {
  of: (path) => String(path[path.length - 1]),
  set: (path, value) => `${String(path[path.length - 1])}: ${value}`,
};

function tenant(context: Omit<SettingsContext, 'names'>) {
  return z
    .object({
      id: z
        .string()
        .regex(TENANT_ID_PATTERN, 'must be 1-63 lower-case letters, digits or -, starting with a letter or digit'),
      ...tenantSettingsFields({ ...context, names: FILE_NAMES }),
    })
    .strict()
    .superRefine(checkTenantSettings)
    .superRefine((t, ctx) => {
      if (t.events && t.events.receivers.length === 0)
        ctx.addIssue({ code: 'custom', path: ['events', 'receivers'], message: 'name at least one receiver' });
      if (t.kit.sandbox) return;
      if (t.kit.apiKey === undefined && t.kit.apiSecret === undefined && t.kit.oauth === undefined)
        ctx.addIssue({
          code: 'custom',
          path: ['kit'],
          message: 'needs one Kit credential: apiKey, oauth, apiSecret (with apiVersion: v3), or sandbox: true',
        });
      // A tenant nobody can reach is a mistake; the sandbox is the exception (main.ts prints a development token).
      if (t.bearerTokens.length + t.readOnlyBearerTokens.length === 0 && !t.jwt)
        ctx.addIssue({
          code: 'custom',
          path: [],
          message: 'needs an inbound credential: bearerTokens, readOnlyBearerTokens or jwt',
        });
    });
}

/** The schema of a tenants file read beside the process's settings (REDIS_URL, PUBLIC_BASE_URL). */
export function tenantsFileSchema(context: Omit<SettingsContext, 'names'>) {
  return z
    .object({
      version: z.literal(1, 'must be 1'),
      operators: z.object({ bearerTokens }).strict().optional(),
      tenants: z.array(tenant(context), 'must be a list of tenants').min(1, 'name at least one tenant'),
    })
    .strict();
}

export type TenantsFile = z.output<ReturnType<typeof tenantsFileSchema>>;
export type FileTenant = TenantsFile['tenants'][number];
