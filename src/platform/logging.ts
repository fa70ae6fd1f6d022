import pino, { type DestinationStream, type Logger, type LoggerOptions } from 'pino';

// The application log. Secrets are kept out in three layers, each catching what the one before can miss:
//   1. pino `redact` paths for the places credentials are known to sit (headers, credential objects);
//   2. a `formatters.log` / `hooks.logMethod` pass that masks secret-named keys at any depth and any string
//      that looks like a credential, including the message itself;
//   3. the output stream masks credential-shaped text and the configured secrets in every finished line,
//      which also covers what serializers produce (error messages and stacks, bindings).

export interface LogSettings {
  level: string;
  format: 'json' | 'pretty';
  /**
   * Configured secret values (SCIM bearer tokens, Kit API key, OAuth client secret...) masked verbatim
   * wherever they appear, whatever their length (see maskSecrets for how short ones are matched).
   */
  knownSecrets?: string[];
}

const CENSOR = '[REDACTED]';

const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-kit-api-key"]',
  'res.headers["set-cookie"]',
  'headers.authorization',
  'headers.Authorization',
  'headers["x-kit-api-key"]',
  'headers["X-Kit-Api-Key"]',
  '*.headers.authorization',
  '*.headers.Authorization',
  '*.headers["x-kit-api-key"]',
  '*.headers["X-Kit-Api-Key"]',
  // HTTP client errors carry the request they made, headers included.
  '*.config.headers.Authorization',
  '*.config.headers["X-Kit-Api-Key"]',
  '*.config.data',
  ...['apiKey', 'token', 'accessToken', 'refreshToken', 'clientSecret', 'password', 'secret'].flatMap((key) => [
    key,
    `*.${key}`,
  ]),
  ...['api_key', 'api_secret', 'access_token', 'refresh_token', 'client_secret'].flatMap((key) => [key, `*.${key}`]),
];

/** Key names whose values are secrets wherever they sit, compared lower-cased without `_` and `-`. */
const SECRET_KEYS = new Set([
  'authorization',
  'cookie',
  'setcookie',
  'xkitapikey',
  'apikey',
  'apisecret',
  'token',
  'accesstoken',
  'refreshtoken',
  'idtoken',
  'bearertoken',
  'clientsecret',
  'password',
  'secret',
]);

const CREDENTIAL_PATTERNS: Array<[RegExp, string]> = [
  // A JWT: a base64url JSON header ("{" encodes as "eyJ") and two more segments. It starts where a run of
  // base64url characters starts: without the lookbehind, "eyJeyJeyJ…" (any logged client text) would make every
  // "eyJ" rescan the rest of the run, quadratic in the line's length.
  [/(?<![A-Za-z0-9_-])eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*/g, '[REDACTED_JWT]'],
  [/\b(Bearer|Basic)(\s+)[A-Za-z0-9._~+/=-]{4,}/gi, `$1$2${CENSOR}`],
  // Kit v4 API keys.
  [/\bkit_[A-Za-z0-9]{6,}/g, '[REDACTED_KIT_KEY]'],
  // Credentials in a query string (Kit v3 took api_key/api_secret as query parameters).
  [/\b(api_key|api_secret|access_token|refresh_token|client_secret|password)=[^&\s"']+/gi, `$1=${CENSOR}`],
];

/**
 * Below this length a known secret is masked only where it stands alone (not inside a longer run of letters
 * and digits): a 3-character Kit key masked inside every word would make the log unreadable, while the secret
 * itself, as a header value, a query parameter or a JSON string, is always bounded by other characters.
 */
const SHORT_SECRET_LENGTH = 8;

const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Masks credential-shaped substrings and the given known secrets in free text. */
export function maskSecrets(text: string, knownSecrets: readonly string[] = []): string {
  let masked = text;
  // Longest first, so a secret that contains a shorter one is masked whole.
  for (const secret of [...knownSecrets].sort((a, b) => b.length - a.length)) {
    if (secret === '' || !masked.includes(secret)) continue;
    masked =
      secret.length >= SHORT_SECRET_LENGTH
        ? masked.split(secret).join(CENSOR)
        : masked.replace(new RegExp(`(?<![A-Za-z0-9])${escapeRegExp(secret)}(?![A-Za-z0-9])`, 'g'), CENSOR);
  }
  for (const [pattern, replacement] of CREDENTIAL_PATTERNS) masked = masked.replace(pattern, replacement);
  return masked;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object') return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

const MAX_DEPTH = 8;

/**
 * A masked copy of plain objects and arrays (never mutating the caller's data). Class instances (errors,
 * requests) are left to their serializers and to the output stream's masking.
 */
function maskValue(value: unknown, knownSecrets: readonly string[], depth = 0): unknown {
  if (typeof value === 'string') return maskSecrets(value, knownSecrets);
  if (depth >= MAX_DEPTH) return value;
  if (Array.isArray(value)) return value.map((v) => maskValue(v, knownSecrets, depth + 1));
  if (!isPlainObject(value)) return value;
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) {
    const normalised = key.toLowerCase().replace(/[-_]/g, '');
    out[key] =
      SECRET_KEYS.has(normalised) && v !== undefined && v !== null ? CENSOR : maskValue(v, knownSecrets, depth + 1);
  }
  return out;
}

/** JSON strings escape some characters: a secret holding one appears escaped inside a JSON line. */
function withEscapedForms(knownSecrets: readonly string[]): string[] {
  const escaped = knownSecrets.map((s) => JSON.stringify(s).slice(1, -1)).filter((s) => !knownSecrets.includes(s));
  return [...knownSecrets, ...escaped];
}

/** The output stream's list (escaped forms included) of each logger's known secrets. */
const lineSecrets = new WeakMap<readonly string[], string[]>();
/** Each root logger's known secrets, so a reload can add the new configuration's. */
const loggerSecrets = new WeakMap<Logger, string[]>();

/**
 * Adds secrets to those a logger (made by createLogger) masks verbatim: a tenants file reloaded on SIGHUP
 * brings tokens and Kit keys the logger was not created with. Its child loggers share the lists.
 */
export function rememberLogSecrets(logger: Logger, secrets: readonly string[]): void {
  const known = loggerSecrets.get(logger);
  if (!known) return;
  for (const s of secrets) if (s !== '' && !known.includes(s)) known.push(s);
  const lines = lineSecrets.get(known);
  if (lines) lines.splice(0, lines.length, ...withEscapedForms(known));
}

/** Masks every line on its way out; `render` turns the JSON line into its final form (e.g. pretty text). */
function maskingStream(
  destination: DestinationStream,
  knownSecrets: readonly string[],
  render?: (line: string) => string,
): DestinationStream {
  const secrets = withEscapedForms(knownSecrets);
  // A reload (SIGHUP) brings secrets this stream never saw: the same array, refilled.
  lineSecrets.set(knownSecrets, secrets);
  const flushable = destination as DestinationStream & { flushSync?: () => void };
  return Object.assign(
    {
      write(line: string) {
        const masked = maskSecrets(line, secrets);
        destination.write(render ? render(masked) : masked);
      },
    },
    // logger.flush() and pino's exit handling look for these on the stream they were given.
    flushable.flushSync ? { flushSync: () => flushable.flushSync?.() } : {},
  );
}

type PrettyFactory = (options: Record<string, unknown>) => (line: string) => string;

/** pino-pretty is a development dependency; a production install without it falls back to JSON. */
function loadPrettyFactory(): PrettyFactory | undefined {
  try {
    // A static import would make the optional development dependency mandatory in production.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require('pino-pretty').prettyFactory as PrettyFactory;
  } catch {
    return undefined;
  }
}

/**
 * The application logger. `destination` defaults to stdout. `pretty` renders in-process (pino-pretty's
 * prettyFactory) rather than through a transport worker, so the output-stream masking applies to it too.
 */
export function createLogger(settings: LogSettings, destination?: DestinationStream): Logger {
  const knownSecrets = (settings.knownSecrets ?? []).filter((s) => s !== '');
  const options: LoggerOptions = {
    level: settings.level,
    redact: { paths: REDACT_PATHS, censor: CENSOR },
    formatters: {
      log: (object) => maskValue(object, knownSecrets) as Record<string, unknown>,
      bindings: (bindings) => maskValue(bindings, knownSecrets) as Record<string, unknown>,
    },
    hooks: {
      logMethod(args, method) {
        const masked = args.map((a) => (typeof a === 'string' ? maskSecrets(a, knownSecrets) : a));
        return method.apply(this, masked as Parameters<typeof method>);
      },
    },
  };
  // Synchronous stdout: a crash must not swallow the lines that explain it.
  const target = destination ?? pino.destination({ dest: 1, sync: true });
  const prettyFactory = settings.format === 'pretty' ? loadPrettyFactory() : undefined;
  const render = prettyFactory?.({ colorize: false, translateTime: 'SYS:standard', ignore: 'pid,hostname' });
  const logger = pino(options, maskingStream(target, knownSecrets, render));
  loggerSecrets.set(logger, knownSecrets);
  if (settings.format === 'pretty' && !prettyFactory)
    logger.warn('LOG_FORMAT=pretty needs the pino-pretty package, which is not installed; logging JSON instead');
  return logger;
}
