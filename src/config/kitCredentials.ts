/** How this server authenticates to Kit (read from the environment or a tenants file). */
export type KitCredentials =
  | { kind: 'apiKey'; apiKey: string }
  /** Kit's legacy v3 API: the api_secret travels as a query or body parameter (src/kit/v3/). */
  | { kind: 'v3Secret'; apiSecret: string }
  | {
      kind: 'oauth';
      accessToken?: string;
      refreshToken?: string;
      clientId?: string;
      clientSecret?: string;
      /**
       * Where rotated tokens are persisted so a restart uses them: a file path, or `redis` to share the pair (and
       * one refresh at a time) through REDIS_URL.
       */
      tokenStorePath?: string;
    };
