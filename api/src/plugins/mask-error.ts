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

// the database or another backing service is unreachable: the client may retry, it is no bug
const UNAVAILABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  '57P01',
  '57P02',
  '57P03',
  '08000',
  '08001',
  '08003',
  '08006',
]);
const isUnavailable = (error: unknown) => {
  const { code, message } = (error ?? {}) as { code?: unknown; message?: unknown };
  if (typeof code === 'string' && UNAVAILABLE_CODES.has(code)) return true;
  return (
    typeof message === 'string' &&
    /Connection terminated|connect ECONNREFUSED|timeout exceeded when trying to connect/.test(message)
  );
};

// graphql-js reports a variable that fails coercion as `Variable "$x" got invalid value ...`,
// with no path (nothing ran yet) and the scalar's own error, if any, as originalError
const isVariableCoercionError = (error: unknown) =>
  error instanceof Error &&
  error.name === 'GraphQLError' &&
  !(error as GraphQLError).path &&
  /^Variable "\$[_A-Za-z][_0-9A-Za-z]*" (got invalid value|of required type|of non-null type)/.test(
    error.message,
  ) &&
  !isCoded((error as GraphQLError).originalError);

function describeCoercion(message: string): string {
  // `got invalid value <inspected value> at "input.limit"; <reason>`: the value is the client's
  // own, but an object's inspection is noise (and a File's would show its internals)
  const match = /^(Variable "\$[^"]+") got invalid value .*?( at "[^"]+")?; (.*)$/s.exec(message);
  const text = match ? `${match[1]} got an invalid value${match[2] ?? ''}: ${match[3]}` : message;
  return text.length > 300 ? `${text.slice(0, 297)}...` : text;
}

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
    // a coded input error from graphql-js coercion (a scalar's parseValue) carries no status yet
    const withStatus =
      extensions.http || extensions.code !== 'BAD_USER_INPUT'
        ? extensions
        : { ...extensions, http: { status: 400 } };
    return new GraphQLError(text, { nodes: located.nodes, path: located.path, extensions: withStatus });
  }
  if (isVariableCoercionError(error)) {
    // a variable that does not fit its type: the client's mistake, said without echoing objects
    return new GraphQLError(describeCoercion(located.message ?? ''), {
      nodes: located.nodes,
      extensions: { code: 'BAD_USER_INPUT', http: { status: 400 } },
    });
  }
  if (error instanceof Error && error.name === 'GraphQLError' && !located.originalError) {
    // parse and validation errors: the client's mistake
    return new GraphQLError(error.message, {
      nodes: located.nodes,
      path: located.path,
      extensions: {
        ...located.extensions,
        code: 'GRAPHQL_VALIDATION_FAILED',
        http: located.extensions?.http ?? { status: 400 },
      },
    });
  }
  if (
    isUnavailable(original) ||
    (original instanceof AggregateError && original.errors.some(isUnavailable))
  ) {
    return new GraphQLError('The service is temporarily unavailable', {
      nodes: located.nodes,
      path: located.path,
      extensions: { code: 'SERVICE_UNAVAILABLE', http: { status: 503, headers: { 'retry-after': '5' } } },
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
