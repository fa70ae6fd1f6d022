// `${NAME}` in a tenants file's values is replaced from the environment, so the file can be committed or kept in
// a ConfigMap while the secrets stay in the secret store. `$${` writes a literal `${`. Keys are never
// interpolated: they are the file's structure.

export type Path = ReadonlyArray<string | number>;

export interface Interpolation {
  env: Record<string, string | undefined>;
  /** An unset (or empty) variable, or a malformed reference, at the path of the string it is in. */
  report: (path: Path, message: string) => void;
  /** Filled with the names of the variables the values use (they are the file's, not the environment's). */
  referenced: Set<string>;
}

const REFERENCE = /\$\$\{|\$\{([^}]*)\}/g;
const VARIABLE_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * A copy of `value` with every `${NAME}` in its strings replaced. A string with a reference that cannot be
 * resolved is left as it was, so the remaining checks still run (its value never appears in a problem).
 */
export function interpolateEnv(value: unknown, how: Interpolation, path: Path = []): unknown {
  if (typeof value === 'string') return interpolateString(value, how, path);
  if (Array.isArray(value)) return value.map((v, i) => interpolateEnv(v, how, [...path, i]));
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = interpolateEnv(v, how, [...path, k]);
    return out;
  }
  return value;
}

function interpolateString(text: string, how: Interpolation, path: Path): string {
  if (!text.includes('$')) return text;
  let failed = false;
  const result = text.replace(REFERENCE, (match, name: string | undefined) => {
    if (match === '$${') return '${';
    if (!VARIABLE_NAME.test(name!)) {
      failed = true;
      how.report(path, '${…} must name an environment variable: letters, digits and _');
      return match;
    }
    how.referenced.add(name!);
    const v = how.env[name!];
    if (v === undefined || v.trim() === '') {
      failed = true;
      how.report(path, `\${${name}} is not set in the environment`);
      return match;
    }
    return v.trim();
  });
  return failed ? text : result;
}
