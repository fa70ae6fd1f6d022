// Kit answers every failure as `{errors: [string]}` with a status; a Rejection carries exactly that from the
// store or a route to the server, which writes it out unchanged.

export class Rejection extends Error {
  readonly status: number;
  readonly errors: string[];
  readonly headers: Record<string, string>;

  constructor(status: number, errors: string | string[], headers: Record<string, string> = {}) {
    const list = Array.isArray(errors) ? errors : [errors];
    super(list.join('; '));
    this.name = 'Rejection';
    this.status = status;
    this.errors = list;
    this.headers = headers;
  }
}

/** Kit's body for an id that does not exist (or a relationship that does not exist, e.g. an untag). */
export const notFound = (): Rejection => new Rejection(404, 'Not Found');

export const unprocessable = (message: string): Rejection => new Rejection(422, message);
