import { readFileSync } from 'node:fs';
import { addTypenameToDocument } from '@apollo/client/utilities';
import { parse, print } from 'graphql';
import { createSchema, createYoga } from 'graphql-yoga';
import { describe, expect, it } from 'vitest';
import type { Role } from '../auth/roles.ts';
import { createMemoryCache } from '../cache/memory-cache.ts';
import { maskError } from '../plugins/mask-error.ts';
import { createApqRegistry } from './apq-registry.ts';
import {
  APOLLO_MANIFEST_PATH,
  buildApolloManifest,
  buildPersistedManifest,
  loadApolloManifest,
  loadPersistedManifest,
  MANIFEST_PATH,
  type PersistedManifest,
  serialiseManifest,
  sha256Hex,
} from './manifest.ts';
import { usePersistedOperations } from './use-persisted-operations.ts';

const hello = 'query Hello($name: String) {\n  hello(name: $name)\n}';
const bump = 'mutation Bump {\n  bump\n}';
const greet = 'query Greet {\n  greet {\n    text\n  }\n}';
const manifest: PersistedManifest = {
  [sha256Hex(hello)]: { name: 'Hello', type: 'query', document: hello },
  [sha256Hex(bump)]: { name: 'Bump', type: 'mutation', document: bump },
  [sha256Hex(greet)]: { name: 'Greet', type: 'query', document: greet },
};
const apolloManifest = buildApolloManifest(manifest);
/** The id Apollo Client's PersistedQueryLink sends: sha256 of print() of the document with __typename added. */
const apolloIdOf = (document: string) => sha256Hex(print(addTypenameToDocument(parse(document))));
const helloId = sha256Hex(hello);
const bumpId = sha256Hex(bump);

function server() {
  let bumps = 0;
  const yoga = createYoga({
    maskedErrors: { maskError },
    logging: false,
    schema: createSchema({
      typeDefs:
        'type Query { hello(name: String): String! secret: String! greet: Greeting! } type Greeting { text: String! } type Mutation { bump: Int! }',
      resolvers: {
        Query: {
          greet: () => ({ text: 'hi' }),
          hello: (_: unknown, { name }: { name?: string }) => `hello ${name ?? 'world'}`,
          secret: () => 's',
        },
        Mutation: { bump: () => ++bumps },
      },
    }),
    plugins: [
      usePersistedOperations({
        manifest,
        apolloManifest,
        registry: createApqRegistry(createMemoryCache()),
        // the tests name the role in a header; the real roleOf looks the API key up
        roleOf: async (request) => (request.headers.get('x-test-role') ?? 'anonymous') as Role,
      }),
    ],
  });
  const call = async (path: string, init: RequestInit = {}) => {
    const response = await yoga.fetch(`http://yoga${path}`, init);
    return {
      status: response.status,
      body: (await response.json()) as {
        data?: Record<string, unknown>;
        errors?: { message: string; extensions: { code: string } }[];
      },
    };
  };
  const post = (body: unknown, role?: Role) =>
    call('/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(role ? { 'x-test-role': role } : {}) },
      body: JSON.stringify(body),
    });
  return { call, post, bumps: () => bumps };
}

const apq = (hash: string) => ({ persistedQuery: { version: 1, sha256Hash: hash } });

describe('usePersistedOperations', () => {
  it('runs a persisted query by GET ?id= with variables', async () => {
    const { call } = server();
    const res = await call(`/graphql?id=${helloId}&variables=${encodeURIComponent('{"name":"edge"}')}`);
    expect(res).toEqual({ status: 200, body: { data: { hello: 'hello edge' } } });
  });

  it('runs a persisted query by the APQ extension, in GET and POST', async () => {
    const { call, post } = server();
    const get = await call(`/graphql?extensions=${encodeURIComponent(JSON.stringify(apq(helloId)))}`);
    expect(get.body).toEqual({ data: { hello: 'hello world' } });
    const posted = await post({ extensions: apq(helloId), variables: { name: 'apq' } }, 'partner');
    expect(posted.body).toEqual({ data: { hello: 'hello apq' } });
  });

  it('lets a partner run persisted operations, mutations included, by POST { id }', async () => {
    const { post, bumps } = server();
    const res = await post({ id: bumpId }, 'partner');
    expect(res.body).toEqual({ data: { bump: 1 } });
    expect(bumps()).toBe(1);
  });

  it('refuses a plain query from a partner key with PERSISTED_QUERY_ONLY', async () => {
    const { post } = server();
    const res = await post({ query: '{ secret }' }, 'partner');
    expect(res.status).toBe(403);
    expect(res.body.errors?.[0]?.extensions.code).toBe('PERSISTED_QUERY_ONLY');
    expect(res.body.data).toBeUndefined();
  });

  it('refuses a partner registering an unknown document through APQ', async () => {
    const { post } = server();
    const query = '{ secret }';
    const res = await post({ query, extensions: apq(sha256Hex(query)) }, 'partner');
    expect(res.body.errors?.[0]?.extensions.code).toBe('PERSISTED_QUERY_ONLY');
  });

  it('runs plain queries for every other role', async () => {
    const { post } = server();
    for (const role of ['anonymous', 'user', 'moderator', 'admin'] as const) {
      expect((await post({ query: '{ secret }' }, role)).body).toEqual({ data: { secret: 's' } });
    }
  });

  it('answers an unknown id with PersistedQueryNotFound as APQ clients expect', async () => {
    const { call, post } = server();
    const unknown = 'a'.repeat(64);
    for (const res of [await post({ extensions: apq(unknown) }), await call(`/graphql?id=${unknown}`)]) {
      expect(res.status).toBe(200);
      expect(res.body.errors).toEqual([
        { message: 'PersistedQueryNotFound', extensions: { code: 'PERSISTED_QUERY_NOT_FOUND' } },
      ]);
    }
  });

  it('runs the APQ retry (document + unknown hash) as a plain query for non-partners', async () => {
    const { post } = server();
    const query = '{ secret }';
    expect((await post({ query, extensions: apq(sha256Hex(query)) })).body).toEqual({
      data: { secret: 's' },
    });
  });

  it('refuses a hash that is not hex, and a document that does not match its hash', async () => {
    const { call, post } = server();
    const notHex = await call('/graphql?id=not-a-hash');
    expect(notHex.status).toBe(400);
    expect(notHex.body.errors?.[0]?.extensions.code).toBe('BAD_USER_INPUT');
    const mismatch = await post({ query: '{ secret }', extensions: apq(helloId) });
    expect(mismatch.body.errors?.[0]?.extensions.code).toBe('BAD_USER_INPUT');
  });

  it("accepts the id Apollo's PersistedQueryLink sends (the document with __typename) from a partner", async () => {
    const { post } = server();
    const id = apolloIdOf(greet);
    expect(id).not.toBe(sha256Hex(greet));
    const res = await post({ operationName: 'Greet', extensions: apq(id) }, 'partner');
    // the Apollo form runs: Apollo's cache gets the __typename it asked for
    expect(res.body).toEqual({ data: { greet: { text: 'hi', __typename: 'Greeting' } } });
  });

  it('registers APQ documents of callers that may send them, and runs them by hash alone later', async () => {
    const { post } = server();
    const query = '{ secret }';
    const id = sha256Hex(query);
    const notYet = await post({ extensions: apq(id) }, 'user');
    expect(notYet.body.errors?.[0]?.message).toBe('PersistedQueryNotFound');
    expect((await post({ query, extensions: apq(id) }, 'user')).body).toEqual({ data: { secret: 's' } });
    expect((await post({ extensions: apq(id) }, 'anonymous')).body).toEqual({ data: { secret: 's' } });
    // a registered document is no allow-list entry: a partner still cannot run it
    const partner = await post({ extensions: apq(id) }, 'partner');
    expect(partner.body.errors?.[0]?.message).toBe('PersistedQueryNotFound');
    expect(partner.body.data).toBeUndefined();
  });

  it('registers nothing for a partner, whose APQ retry is refused', async () => {
    const { post } = server();
    const query = '{ secret hello }';
    const id = sha256Hex(query);
    expect((await post({ query, extensions: apq(id) }, 'partner')).body.errors?.[0]?.extensions.code).toBe(
      'PERSISTED_QUERY_ONLY',
    );
    expect((await post({ extensions: apq(id) }, 'user')).body.errors?.[0]?.message).toBe(
      'PersistedQueryNotFound',
    );
  });

  it('keeps mutations off GET even when persisted', async () => {
    const { call, bumps } = server();
    const res = await call(`/graphql?id=${bumpId}`);
    expect(res.status).toBe(405);
    expect(bumps()).toBe(0);
  });
});

describe('persisted operations manifest', () => {
  it('is up to date with schema/operations (run npm run operations:build)', () => {
    expect(readFileSync(MANIFEST_PATH, 'utf8')).toBe(serialiseManifest(buildPersistedManifest()));
    expect(JSON.parse(readFileSync(APOLLO_MANIFEST_PATH, 'utf8'))).toEqual(
      buildApolloManifest(buildPersistedManifest()),
    );
  });

  it("has, in Apollo's format, each operation as Apollo Client sends it (id = what its link hashes)", () => {
    const apollo = loadApolloManifest();
    expect(apollo.format).toBe('apollo-persisted-query-manifest');
    const canonical = loadPersistedManifest();
    for (const op of Object.values(canonical)) {
      const entry = apollo.operations.find((o) => o.name === op.name)!;
      expect(entry.id).toBe(apolloIdOf(op.document));
      expect(entry.body).toBe(print(addTypenameToDocument(parse(op.document))));
    }
  });

  it('loads, and every id is the sha256 of its document', () => {
    const loaded = loadPersistedManifest();
    expect(
      Object.values(loaded)
        .map((op) => op.name)
        .sort(),
    ).toEqual(['DeleteImage', 'Image', 'RecordClick', 'Search', 'UploadImage']);
  });
});
