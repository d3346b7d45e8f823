import type { GraphQLParams, Plugin } from 'graphql-yoga';
import type { Role } from '../auth/roles.ts';
import { AppError, badInput } from '../errors.ts';
import { HEX_SHA256, loadPersistedManifest, type PersistedManifest, sha256Hex } from './manifest.ts';

export interface PersistedOperationsOptions {
  /** The caller's role, from its API key; asked only for documents that are not persisted. */
  roleOf: (request: Request) => Promise<Role>;
  /** The allow-list. Default: schema/persisted-operations.json, read once. */
  manifest?: PersistedManifest;
  /** Who may send a document that is not in the manifest. Default: everyone but partners. */
  mayRunPlainQueries?: (role: Role) => boolean;
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
 * Persisted Queries extension) from the manifest the edge also uses, and enforces its
 * allow-list: partners may run persisted operations only, so going around the edge gains
 * nothing. Unknown ids answer `PersistedQueryNotFound` as the APQ protocol says; nothing is
 * registered at run time, the manifest is the whole list.
 */
export function usePersistedOperations({
  roleOf,
  manifest,
  mayRunPlainQueries = (role) => role !== 'partner',
}: PersistedOperationsOptions): Plugin {
  let operations = manifest;
  return {
    async onParams({ params, request, setParams }) {
      operations ??= loadPersistedManifest();
      const { id: _id, ...rest } = params as GraphQLParams & { id?: unknown };
      const hash = requestedHash(request, params);
      if (hash !== undefined && hash !== null) {
        if (typeof hash !== 'string' || !HEX_SHA256.test(hash.toLowerCase())) {
          throw badInput('Expected the persisted query id to be a sha256 digest in hex (64 characters)');
        }
        const id = hash.toLowerCase();
        if (typeof rest.query === 'string' && sha256Hex(rest.query) !== id) {
          throw badInput('The persisted query id is not the sha256 of the query sent with it');
        }
        const persisted = operations[id];
        if (persisted) {
          setParams({
            ...rest,
            query: persisted.document,
            operationName: rest.operationName ?? persisted.name,
          });
          return;
        }
        if (typeof rest.query !== 'string')
          throw new AppError('PERSISTED_QUERY_NOT_FOUND', PERSISTED_QUERY_NOT_FOUND);
        // an APQ client registering a document we do not know: it is a plain query from here on
      }
      if (rest.query === undefined || rest.query === null) return; // yoga answers "Must provide query string."
      if (!mayRunPlainQueries(await roleOf(request))) {
        throw new AppError(
          'PERSISTED_QUERY_ONLY',
          'This API key may run persisted operations only: send ?id=<sha256> or extensions.persistedQuery',
        );
      }
      if ('id' in params) setParams(rest);
    },
  };
}
