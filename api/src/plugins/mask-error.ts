import { GraphQLError } from 'graphql';
import { maskError as yogaMaskError } from 'graphql-yoga';
import { type LogSink, silentLogger } from '../../../search-cluster/src/index.ts';

type Coded = Error & { extensions: { code: string; [key: string]: unknown } };

// duck-typed on purpose: graphql's ESM and CJS builds can both be loaded, and instanceof
// fails across them
const isCoded = (error: unknown): error is Coded =>
  error instanceof Error &&
  typeof (error as { extensions?: { code?: unknown } }).extensions?.code === 'string';

const YOGA_CODES: Record<string, { code: string; status: number }> = {
  REQUEST_ENTITY_TOO_LARGE: { code: 'PAYLOAD_TOO_LARGE', status: 413 },
};

/**
 * Expected errors (those carrying `extensions.code`) reach the client with their message;
 * GraphQL parse and validation errors get a code; anything else is logged and masked.
 */
export const createMaskError =
  (log: Pick<LogSink, 'error'>) =>
  (error: unknown, message: string, isDev?: boolean): Error =>
    maskWith(log, error, message, isDev);

/** maskError without logging (tests that build their own yoga). */
export const maskError = createMaskError(silentLogger);

function maskWith(log: Pick<LogSink, 'error'>, error: unknown, message: string, isDev?: boolean): Error {
  const located = error as Partial<GraphQLError>;
  const original = (located.originalError ?? error) as unknown;
  if (isCoded(original)) {
    // yoga's multipart parser wraps the body-size error in a BAD_REQUEST
    const tooLarge = /Request body too large|File size limit exceeded/.test(original.message);
    const mapped = tooLarge ? YOGA_CODES.REQUEST_ENTITY_TOO_LARGE : YOGA_CODES[original.extensions.code];
    const extensions = mapped
      ? { ...original.extensions, code: mapped.code, http: { status: mapped.status } }
      : original.extensions;
    const text = tooLarge ? 'The request body is larger than the upload limit' : original.message;
    return new GraphQLError(text, { nodes: located.nodes, path: located.path, extensions });
  }
  if (error instanceof Error && error.name === 'GraphQLError' && !located.originalError) {
    // parse and validation errors: the client's mistake
    return new GraphQLError(error.message, {
      nodes: located.nodes,
      path: located.path,
      extensions: { ...located.extensions, code: 'GRAPHQL_VALIDATION_FAILED' },
    });
  }
  log.error('unexpected error', { error: original instanceof Error ? original.stack : String(original) });
  const masked = yogaMaskError(error, message, isDev) as GraphQLError;
  return new GraphQLError(masked.message, {
    nodes: located.nodes,
    path: located.path,
    extensions: { code: 'INTERNAL_SERVER_ERROR' },
  });
}
