// Matches a request to a route pattern written the way Kit's docs and the call counters name them
// ("/v4/tags/:tag_id/subscribers/:id"). The pattern, not the URL, is what gets counted.

export interface Exchange {
  params: Record<string, string>;
  query: URLSearchParams;
  /** The parsed JSON or form body; {} when there was none. */
  body: Record<string, unknown>;
}

export interface Reply {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

export interface Route {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE' | 'PATCH';
  pattern: string;
  handle(x: Exchange): Reply | Promise<Reply>;
}

export interface RouteMatch<R extends Route> {
  route: R;
  params: Record<string, string>;
  /** "GET /v4/subscribers/:id" */
  endpoint: string;
}

interface Compiled<R> {
  route: R;
  regex: RegExp;
  names: string[];
}

export class Router<R extends Route> {
  private readonly compiled: Compiled<R>[];

  constructor(routes: R[]) {
    this.compiled = routes.map((route) => {
      const names: string[] = [];
      const source = route.pattern
        .split('/')
        .map((part) => {
          if (!part.startsWith(':')) return part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
          names.push(part.slice(1));
          return '([^/]+)';
        })
        .join('/');
      return { route, regex: new RegExp(`^${source}$`), names };
    });
  }

  match(method: string, path: string): RouteMatch<R> | null {
    for (const c of this.compiled) {
      if (c.route.method !== method) continue;
      const m = c.regex.exec(path);
      if (!m) continue;
      const params: Record<string, string> = {};
      c.names.forEach((name, i) => {
        params[name] = safeDecode(m[i + 1]);
      });
      return { route: c.route, params, endpoint: `${c.route.method} ${c.route.pattern}` };
    }
    return null;
  }
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}
