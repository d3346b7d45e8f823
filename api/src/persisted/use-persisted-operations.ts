import type { GraphQLParams, Plugin } from 'graphql-yoga';
import type { Role } from '../auth/roles.ts';
import { AppError, badInput } from '../errors.ts';
import type { ApqRegistry } from './apq-registry.ts';
import {
  type ApolloPersistedQueryManifest,
  allowListOf,
  HEX_SHA256,
  loadApolloManifest,
  loadPersistedManifest,
  type PersistedManifest,
  type PersistedOperation,
  sha256Hex,
} from './manifest.ts';

export interface PersistedOperationsOptions {
  /** The caller's role, from its API key; asked only for documents that are not persisted. */
  roleOf: (request: Request) => Promise<Role>;
  /** The allow-list. Default: schema/persisted-operations.json, read once. */
  manifest?: PersistedManifest;
  /** The same operations in Apollo's form. Default: schema/persisted-query-manifest.json; null: none. */
  apolloManifest?: ApolloPersistedQueryManifest | null;
  /** Who may send a document that is not in the manifest. Default: everyone but partners. */
  mayRunPlainQueries?: (role: Role) => boolean;
  /** APQ registrations of callers that may send documents; without one, nothing is registered. */
  registry?: ApqRegistry;
}

/** The message Apollo's and others' APQ links look for before retrying with the full document. */
export const PERSISTED_QUERY_NOT_FOUND = 'PersistedQueryNotFound';

interface PersistedQueryExtension {
  version?: unknown;
  sha256Hash?: unknown;
}

/** The id a request names: GET `?id=`, a body `id`, or the APQ extension. */
function requestedHash(request: Request, params: GraphQLParams & { id?: unknown }): unknown {
  if (request.method === 'GET') {
    const id = new URL(request.url).searchParams.get('id');
    if (id !== null) return id;
  }
  if (params.id !== undefined) return params.id;
  const persisted = params.extensions?.persistedQuery as PersistedQueryExtension | undefined;
  if (persisted === undefined || persisted === null) return undefined;
  if (typeof persisted !== 'object') throw badInput('Expected extensions.persistedQuery to be an object');
  if (persisted.version !== undefined && persisted.version !== 1) {
    throw badInput(`Expected persisted query version 1 but received ${JSON.stringify(persisted.version)}`);
  }
  return persisted.sha256Hash;
}

/**
 * Resolves persisted operations (GET `?id=<sha256>`, `{ id }` bodies, and the Automatic
 * Persisted Queries extension) from the manifest the edge also uses, under its own ids and under
 * the ids of its Apollo form (what Apollo Client's PersistedQueryLink sends), and enforces its
 * allow-list: partners may run persisted operations only, so going around the edge gains
 * nothing. An unknown id answers `PersistedQueryNotFound` as the APQ protocol says; callers that
 * may send documents can then register theirs (hash and document together), and send the hash
 * alone from then on.
 */
export function usePersistedOperations({
  roleOf,
  manifest,
  apolloManifest,
  mayRunPlainQueries = (role) => role !== 'partner',
  registry,
}: PersistedOperationsOptions): Plugin {
  let allowList: Map<string, PersistedOperation> | undefined;
  const refuse = () =>
    new AppError(
      'PERSISTED_QUERY_ONLY',
      'This API key may run persisted operations only: send ?id=<sha256> or extensions.persistedQuery',
    );
  return {
    async onParams({ params, request, setParams }) {
      allowList ??= allowListOf(
        manifest ?? loadPersistedManifest(),
        apolloManifest === undefined ? loadApolloManifest() : apolloManifest,
      );
      const { id: _id, ...rest } = params as GraphQLParams & { id?: unknown };
      const hash = requestedHash(request, params);
      let register: string | null = null;
      if (hash !== undefined && hash !== null) {
        if (typeof hash !== 'string' || !HEX_SHA256.test(hash.toLowerCase())) {
          throw badInput('Expected the persisted query id to be a sha256 digest in hex (64 characters)');
        }
        const id = hash.toLowerCase();
        if (typeof rest.query === 'string' && sha256Hex(rest.query) !== id) {
          throw badInput('The persisted query id is not the sha256 of the query sent with it');
        }
        const persisted = allowList.get(id);
        if (persisted) {
          setParams({
            ...rest,
            query: persisted.document,
            operationName: rest.operationName ?? persisted.name,
          });
          return;
        }
        if (typeof rest.query !== 'string') {
          // the hash alone: a registered document, for callers that may send documents
          const registered =
            registry && mayRunPlainQueries(await roleOf(request)) ? await registry.get(id) : null;
          if (!registered) throw new AppError('PERSISTED_QUERY_NOT_FOUND', PERSISTED_QUERY_NOT_FOUND);
          setParams({ ...rest, query: registered });
          return;
        }
        // an APQ client registering a document we do not know: a plain query from here on
        register = id;
      }
      if (rest.query === undefined || rest.query === null) return; // yoga answers "Must provide query string."
      if (!mayRunPlainQueries(await roleOf(request))) throw refuse();
      if (register && registry && typeof rest.query === 'string')
        await registry.register(register, rest.query);
      if ('id' in params) setParams(rest);
    },
  };
}
