import { GraphQLError } from 'graphql';

/** Codes a client may see. Everything else is masked as INTERNAL_SERVER_ERROR. */
export type ErrorCode =
  | 'BAD_USER_INPUT'
  | 'PAYLOAD_TOO_LARGE'
  | 'UNSUPPORTED_MEDIA_TYPE'
  | 'NOT_FOUND'
  | 'UNAUTHENTICATED'
  | 'FORBIDDEN'
  | 'PERSISTED_QUERY_NOT_FOUND'
  | 'PERSISTED_QUERY_ONLY'
  | 'SERVICE_UNAVAILABLE'
  | 'RATE_LIMITED'
  | 'TIMEOUT'
  | 'GATE_FAILED';

const HTTP_STATUS: Record<ErrorCode, number> = {
  BAD_USER_INPUT: 400,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  NOT_FOUND: 404,
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
  PERSISTED_QUERY_NOT_FOUND: 200,
  PERSISTED_QUERY_ONLY: 403,
  SERVICE_UNAVAILABLE: 503,
  RATE_LIMITED: 429,
  TIMEOUT: 504,
  GATE_FAILED: 409,
};

/**
 * An expected error: its message and code reach the client (GraphQL `extensions.code`).
 * Throw it from services; yoga's masking lets GraphQLError through and hides the rest.
 */
export class AppError extends GraphQLError {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, extra: Record<string, unknown> = {}) {
    super(message, { extensions: { code, http: { status: HTTP_STATUS[code] }, ...extra } });
    this.code = code;
  }
}

export const badInput = (message: string, extra?: Record<string, unknown>) =>
  new AppError('BAD_USER_INPUT', message, extra);
export const notFound = (message: string) => new AppError('NOT_FOUND', message);
