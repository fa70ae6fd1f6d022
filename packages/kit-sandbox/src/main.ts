import { type KitSandboxOptions, startKitSandbox } from './index';

// `npm run sandbox`: a Kit stand-in on a fixed port for manual runs, benchmarks and multi-process tests.
// The only file of the sandbox that reads the environment.

function wholeNumber(name: string): number | undefined {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === '') return undefined;
  if (!/^\d+$/.test(raw.trim())) throw new Error(`${name} must be a whole number`);
  return Number(raw);
}

async function main(): Promise<void> {
  const rateMax = wholeNumber('KIT_SANDBOX_RATE_MAX');
  const rateWindowMs = wholeNumber('KIT_SANDBOX_RATE_WINDOW_MS');
  const options: KitSandboxOptions = {
    port: wholeNumber('KIT_SANDBOX_PORT') ?? 4010,
    host: process.env.KIT_SANDBOX_HOST || '127.0.0.1',
    apiKey: process.env.KIT_SANDBOX_API_KEY || undefined,
    apiSecret: process.env.KIT_SANDBOX_API_SECRET || undefined,
    dataFile: process.env.KIT_SANDBOX_DATA_FILE || undefined,
  };
  if (rateMax !== undefined || rateWindowMs !== undefined) {
    options.rateLimit = { max: rateMax ?? 120, windowMs: rateWindowMs ?? 60_000 };
  }
  const clientId = process.env.KIT_SANDBOX_OAUTH_CLIENT_ID;
  const clientSecret = process.env.KIT_SANDBOX_OAUTH_CLIENT_SECRET;
  if (clientId && clientSecret) {
    options.oauth = {
      clientId,
      clientSecret,
      accessToken: process.env.KIT_SANDBOX_OAUTH_ACCESS_TOKEN || undefined,
      refreshToken: process.env.KIT_SANDBOX_OAUTH_REFRESH_TOKEN || undefined,
    };
  }

  const accountCount = wholeNumber('KIT_SANDBOX_ACCOUNTS') ?? 1;
  if (accountCount < 1) throw new Error('KIT_SANDBOX_ACCOUNTS must be at least 1 (the default account)');

  const sandbox = await startKitSandbox(options);
  // The count includes the default account and those restored from the data file.
  while (sandbox.accounts().length < accountCount) sandbox.createAccount();
  const lines = [
    `Kit sandbox listening on ${sandbox.url}`,
    `  KIT_API_URL=${sandbox.url}`,
    `  KIT_API_KEY=${sandbox.apiKey}`,
    `  (Kit v3: KIT_API_VERSION=v3 KIT_API_SECRET=${sandbox.apiSecret})`,
    `  admin: ${sandbox.url}/__sandbox/… with header X-Sandbox-Admin: <the API key>`,
  ];
  const tokens = sandbox.oauthTokens();
  if (tokens)
    lines.push(`  OAuth access token: ${tokens.accessToken}`, `  OAuth refresh token: ${tokens.refreshToken}`);
  for (const account of sandbox.accounts().slice(1)) {
    lines.push(`  account ${account.id}: KIT_API_KEY=${account.apiKey} KIT_API_SECRET=${account.apiSecret}`);
  }
  if (options.dataFile) lines.push(`  data file: ${options.dataFile}`);
  console.log(lines.join('\n'));

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.log(`Kit sandbox: ${signal}, saving and stopping`);
    sandbox.close().then(
      () => process.exit(0),
      (e) => {
        console.error(e);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

main().catch((e) => {
  console.error('Kit sandbox failed to start:', e instanceof Error ? e.message : e);
  process.exit(1);
});
