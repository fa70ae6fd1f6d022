// `${NAME}` in a tenants file's values is replaced from the environment, so the file can be committed or kept in
// a ConfigMap while the secrets stay in the secret store. `$${` writes a literal `${`. Keys are never
// interpolated: they are the file's structure.

export type Path = ReadonlyArray<string | number>;

const REFERENCE = /\$\$\{|\$\{([^}]*)\}/g;
const VARIABLE_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * A copy of `value` with every `${NAME}` in its strings replaced. A reference to an unset (or empty) variable,
 * or a malformed one, is reported with the path of the string it is in; the string is then left as it was so
 * the remaining checks still run (its value never appears in a problem).
 */
export function interpolateEnv(
  value: unknown,
  env: Record<string, string | undefined>,
  report: (path: Path, message: string) => void,
  path: Path = [],
): unknown {
  if (typeof value === 'string') return interpolateString(value, env, (message) => report(path, message));
  if (Array.isArray(value)) return value.map((v, i) => interpolateEnv(v, env, report, [...path, i]));
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = interpolateEnv(v, env, report, [...path, k]);
    return out;
  }
  return value;
}

function interpolateString(text: string, env: Record<string, string | undefined>, report: (m: string) => void) {
  if (!text.includes('$')) return text;
  let failed = false;
  const result = text.replace(REFERENCE, (match, name: string | undefined) => {
    if (match === '$${') return '${';
    if (!VARIABLE_NAME.test(name!)) {
      failed = true;
      report('${…} must name an environment variable: letters, digits and _');
      return match;
    }
    const v = env[name!];
    if (v === undefined || v.trim() === '') {
      failed = true;
      report(`\${${name}} is not set in the environment`);
      return match;
    }
    return v.trim();
  });
  return failed ? text : result;
}
