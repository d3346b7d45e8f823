import manifest from '../../schema/persisted-operations.json';
import apolloManifest from '../../schema/persisted-query-manifest.json';
import type { Caller } from './caller.ts';
import { sha256Hex } from './crypto.ts';
import { badInput, EdgeError } from './errors.ts';
import type { GraphQLParams } from './graphql-request.ts';

export interface PersistedOperation {
  name: string;
  type: 'query' | 'mutation' | 'subscription';
  document: string;
}

/** Built by `npm run operations:build`; bundled into the Worker, the same file the API reads. */
const operations = manifest as Record<string, PersistedOperation>;
/**
 * The same operations under the ids Apollo Client's PersistedQueryLink sends: the sha256 of the
 * document with `__typename` added (schema/persisted-query-manifest.json). They run as sent.
 */
const apolloOperations: Record<string, PersistedOperation> = Object.fromEntries(
  apolloManifest.operations.map((op) => [
    op.id,
    { name: op.name, type: op.type as PersistedOperation['type'], document: op.body },
  ]),
);
const HEX_SHA256 = /^[0-9a-f]{64}$/;

/** What the edge forwards: the document to run and, for persisted ones, their id. */
export interface ResolvedOperation {
  /** sha256 of the persisted document; null for a plain (non-persisted) query. */
  hash: string | null;
  persisted: PersistedOperation | null;
  query: string;
  variables: Record<string, unknown>;
  operationName?: string;
  /** An APQ registration (hash and document, not allow-listed): the API registers it too. */
  registers?: string;
}

/** Where registered APQ documents are kept (apq-registry.ts); absent: nothing is registered. */
export interface ApqStore {
  get(hash: string): Promise<string | null>;
  put(hash: string, document: string): void;
}

/** The persisted operation called `name`, for the REST shapes. */
export function persistedOperation(name: string): { hash: string; operation: PersistedOperation } {
  for (const [hash, operation] of Object.entries(operations)) {
    if (operation.name === name) return { hash, operation };
  }
  throw new Error(
    `Operation ${name} is missing from schema/persisted-operations.json; run npm run operations:build`,
  );
}

function requestedHash(params: GraphQLParams): unknown {
  if (params.id !== undefined) return params.id;
  const persisted = params.extensions?.persistedQuery as
    | { version?: unknown; sha256Hash?: unknown }
    | undefined;
  if (persisted === undefined || persisted === null) return undefined;
  if (typeof persisted !== 'object') throw badInput('Expected extensions.persistedQuery to be an object');
  if (persisted.version !== undefined && persisted.version !== 1) {
    throw badInput(`Expected persisted query version 1 but received ${JSON.stringify(persisted.version)}`);
  }
  return persisted.sha256Hash;
}

/**
 * Resolves `?id=`, `{ id }` and the APQ extension from the manifest (its own ids and those of
 * the Apollo form) and applies the allow-list the API applies too: partner keys run persisted
 * operations only. An unknown id is `PersistedQueryNotFound`; a caller that may send documents
 * registers its document with the APQ retry (hash and document) and sends the hash alone after.
 */
export async function resolveOperation(
  params: GraphQLParams,
  caller: Caller,
  apq?: ApqStore,
): Promise<ResolvedOperation> {
  const { variables, operationName } = params;
  const requested = requestedHash(params);
  if (requested !== undefined && requested !== null) {
    const hash = typeof requested === 'string' ? requested.toLowerCase() : '';
    if (!HEX_SHA256.test(hash)) {
      throw badInput('Expected the persisted query id to be a sha256 digest in hex (64 characters)');
    }
    if (params.query !== undefined && (await sha256Hex(params.query)) !== hash) {
      throw badInput('The persisted query id is not the sha256 of the query sent with it');
    }
    const persisted = operations[hash] ?? apolloOperations[hash];
    if (persisted) {
      return {
        hash,
        persisted,
        query: persisted.document,
        variables,
        operationName: operationName ?? persisted.name,
      };
    }
    if (params.query === undefined) {
      // the hash alone: a document registered before, for callers that may send documents
      const registered = !caller.partner && apq ? await apq.get(hash) : null;
      if (!registered) throw new EdgeError('PERSISTED_QUERY_NOT_FOUND', 'PersistedQueryNotFound');
      return { hash: null, persisted: null, query: registered, variables, operationName };
    }
    if (!caller.partner && apq) {
      apq.put(hash, params.query);
      return { hash: null, persisted: null, query: params.query, variables, operationName, registers: hash };
    }
  }
  if (params.query === undefined)
    throw badInput('Expected a query, a persisted id or extensions.persistedQuery');
  if (caller.partner) {
    throw new EdgeError(
      'PERSISTED_QUERY_ONLY',
      'This API key may run persisted operations only: send ?id=<sha256> or extensions.persistedQuery',
    );
  }
  return { hash: null, persisted: null, query: params.query, variables, operationName };
}

/** `GET /persisted-query-manifest.json`: the allow-list in Apollo's manifest format, as bundled. */
export const handleApolloManifest = async (): Promise<Response> =>
  new Response(JSON.stringify(apolloManifest), {
    headers: { 'content-type': 'application/json', 'cache-control': 'public, max-age=300' },
  });
