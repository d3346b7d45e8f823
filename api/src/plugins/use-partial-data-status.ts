import { GraphQLError } from 'graphql';
import type { Plugin } from 'graphql-yoga';

/** The error without its HTTP status (headers such as Retry-After stay). */
function withoutStatus(error: GraphQLError): GraphQLError {
  const http = error.extensions?.http as { status?: number; headers?: Record<string, string> } | undefined;
  if (!http?.status) return error;
  const { http: _http, ...extensions } = error.extensions;
  return new GraphQLError(error.message, {
    nodes: error.nodes,
    source: error.source,
    positions: error.positions,
    path: error.path,
    originalError: error.originalError ?? undefined,
    extensions: http.headers ? { ...extensions, http: { headers: http.headers } } : extensions,
  });
}

/**
 * GraphQL-over-HTTP: a response whose `data` is present and not null is 2xx, whatever the
 * errors beside it say (yoga would take the highest `extensions.http.status` of the errors,
 * and clients such as graphql-request drop the partial data of a 4xx). Errors that null the
 * whole `data` (or come before execution) keep their status.
 */
export function usePartialDataStatus(): Plugin {
  return {
    onExecutionResult({ result, setResult }) {
      if (!result || Symbol.asyncIterator in result) return;
      if (result.data === null || result.data === undefined || !result.errors?.length) return;
      setResult({ ...result, errors: result.errors.map(withoutStatus) });
    },
  };
}
