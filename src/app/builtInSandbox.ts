import { randomBytes } from 'node:crypto';
import type { Config } from '../config/environment';
import type { KitSandbox, SandboxAccount } from '@convertkit-scim/kit-sandbox';
import type { TenantConfig, TenantsConfig } from '../config/tenants/model';
import { loadKitSandbox } from './kitSandboxPackage';

// `npm start` without Kit credentials runs on the built-in Kit sandbox, so a new user can curl at once. With a
// tenants file, every entry with `kit: {sandbox: true}` gets an account of its own on that one sandbox,
// kept by tenant id across reloads, as a real Kit account outlives a reload of the file.

export interface SandboxedTenants {
  tenants: TenantsConfig;
  /** Bearer tokens made up for sandbox tenants that configured none, by tenant id: printed, never logged. */
  devTokens: Map<string, string>;
}

export class BuiltInSandbox {
  private sandbox?: KitSandbox;
  private readonly accounts = new Map<string, SandboxAccount>();
  private readonly devTokens = new Map<string, string>();

  constructor(private readonly port: number | undefined) {}

  /** The sandbox's URL once started. */
  get url(): string | undefined {
    return this.sandbox?.url;
  }

  /** The tenants with sandbox credentials filled in where they asked for the sandbox (or, alone, had none). */
  async provide(tenants: TenantsConfig): Promise<SandboxedTenants> {
    const environment = tenants.source.kind === 'environment';
    const devTokens = new Map<string, string>();
    const provided: TenantConfig[] = [];
    for (const tenant of tenants.tenants) {
      const wanted = tenant.sandbox || (environment && !tenant.config.kit.credentials);
      if (!wanted) {
        provided.push(tenant);
        continue;
      }
      const sandbox = await this.started();
      const account = this.accountOf(tenant.id, sandbox, environment);
      provided.push({ ...tenant, sandbox: true, config: this.withAccount(tenant, sandbox, account, devTokens) });
    }
    return {
      tenants: {
        ...tenants,
        tenants: provided,
        // The environment's one tenant: its tokens are the operator's, the made-up one included.
        operatorTokens: environment ? provided[0].config.scim.bearerTokens : tenants.operatorTokens,
      },
      devTokens,
    };
  }

  async close(): Promise<void> {
    await this.sandbox?.close();
  }

  private async started(): Promise<KitSandbox> {
    if (!this.sandbox) {
      const { startKitSandbox } = await loadKitSandbox();
      this.sandbox = await startKitSandbox({ port: this.port ?? 0 });
    }
    return this.sandbox;
  }

  private accountOf(id: string, sandbox: KitSandbox, environment: boolean): SandboxAccount {
    let account = this.accounts.get(id);
    if (!account) {
      // The environment's tenant is the sandbox's default account; file tenants each get one of their own.
      account = environment ? sandbox.defaultAccount : sandbox.createAccount();
      this.accounts.set(id, account);
    }
    return account;
  }

  private withAccount(
    tenant: TenantConfig,
    sandbox: KitSandbox,
    account: SandboxAccount,
    devTokens: Map<string, string>,
  ): Config {
    const { config } = tenant;
    const needsToken = config.scim.bearerTokens.length === 0 && !config.scim.jwt;
    let token: string | undefined;
    if (needsToken) {
      token = this.devTokens.get(tenant.id) ?? `dev-${randomBytes(24).toString('base64url')}`;
      this.devTokens.set(tenant.id, token);
      devTokens.set(tenant.id, token);
    }
    return {
      ...config,
      kit: {
        ...config.kit,
        baseUrl: sandbox.url,
        credentials:
          config.kit.apiVersion === 'v3'
            ? { kind: 'v3Secret', apiSecret: account.apiSecret }
            : { kind: 'apiKey', apiKey: account.apiKey },
      },
      scim: {
        ...config.scim,
        bearerTokens: token ? [{ name: 'dev', token, readOnly: false }] : config.scim.bearerTokens,
      },
    };
  }
}
