import type * as KitSandboxPackage from '@convertkit-scim/kit-sandbox';

// The Kit sandbox is a workspace package the app lists as a development dependency only: the production image
// installs with `npm ci --omit=dev` and ships without it. So it is loaded here, when the built-in sandbox is
// actually started, and never at load time (the app's other references to it are `import type`, erased).

const PACKAGE = '@convertkit-scim/kit-sandbox';

/** The built-in sandbox was asked for (no Kit credential, or a `sandbox: true` tenant) in a build without it. */
export class KitSandboxNotInstalledError extends Error {
  constructor() {
    super(
      'the built-in Kit sandbox is not part of this build; set KIT_API_KEY (or KIT_ACCESS_TOKEN, or KIT_API_SECRET ' +
        'with KIT_API_VERSION=v3) and give every tenants-file entry a Kit credential instead of sandbox: true',
    );
    this.name = 'KitSandboxNotInstalledError';
  }
}

/**
 * Only the package itself missing means "not part of this build": `require` names it in "Cannot find module
 * '…'", `import()` in "Cannot find package '…'". A module missing inside an installed sandbox is a broken
 * install and surfaces as it is.
 */
function isPackageAbsent(err: unknown): boolean {
  const { code, message } = (err ?? {}) as { code?: unknown; message?: unknown };
  if (code !== 'MODULE_NOT_FOUND' && code !== 'ERR_MODULE_NOT_FOUND') return false;
  return typeof message === 'string' && new RegExp(`^Cannot find (module|package) '${PACKAGE}'`).test(message);
}

export async function loadKitSandbox(): Promise<typeof KitSandboxPackage> {
  try {
    return await import('@convertkit-scim/kit-sandbox');
  } catch (err) {
    if (isPackageAbsent(err)) throw new KitSandboxNotInstalledError();
    throw err;
  }
}
