/** Codes the edge answers with; the same vocabulary as the API's (api/src/errors.ts), plus gateway ones. */
export type EdgeErrorCode =
  | 'BAD_USER_INPUT'
  | 'PAYLOAD_TOO_LARGE'
  | 'UNSUPPORTED_MEDIA_TYPE'
  | 'NOT_FOUND'
  | 'METHOD_NOT_ALLOWED'
  | 'PERSISTED_QUERY_NOT_FOUND'
  | 'PERSISTED_QUERY_ONLY'
  | 'RATE_LIMITED'
  | 'BAD_GATEWAY'
  | 'SERVICE_UNAVAILABLE'
  | 'TIMEOUT';

const STATUS: Record<EdgeErrorCode, number> = {
  BAD_USER_INPUT: 400,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,
  // the APQ protocol: clients retry with the full document on this answer, whatever the status
  PERSISTED_QUERY_NOT_FOUND: 200,
  PERSISTED_QUERY_ONLY: 403,
  RATE_LIMITED: 429,
  BAD_GATEWAY: 502,
  SERVICE_UNAVAILABLE: 503,
  TIMEOUT: 504,
};

/** An answer the edge gives itself, rendered as a GraphQL error response. */
export class EdgeError extends Error {
  readonly status: number;
  readonly headers: Record<string, string>;
  constructor(
    readonly code: EdgeErrorCode,
    message: string,
    options: { status?: number; headers?: Record<string, string> } = {},
  ) {
    super(message);
    this.status = options.status ?? STATUS[code];
    this.headers = options.headers ?? {};
  }
}

export const badInput = (message: string, status?: number) =>
  new EdgeError('BAD_USER_INPUT', message, { status });

export function jsonResponse(body: unknown, status: number, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { 'content-type': 'application/json; charset=utf-8', ...headers },
  });
}

/** `{ errors: [{ message, extensions: { code } }] }`: never a stack, whatever went wrong. */
export function errorResponse(error: unknown): Response {
  if (error instanceof EdgeError) {
    return jsonResponse(
      { errors: [{ message: error.message, extensions: { code: error.code } }] },
      error.status,
      {
        'x-cache': 'BYPASS',
        ...error.headers,
      },
    );
  }
  console.error(JSON.stringify({ level: 'error', msg: 'edge fault', error: String(error) }));
  return jsonResponse(
    { errors: [{ message: 'Unexpected error.', extensions: { code: 'INTERNAL_SERVER_ERROR' } }] },
    500,
    { 'x-cache': 'BYPASS' },
  );
}
