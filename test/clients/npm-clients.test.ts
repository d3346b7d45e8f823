import { readFileSync } from 'node:fs';
import { ApolloClient, ApolloLink, gql, HttpLink, InMemoryCache } from '@apollo/client/core';
import { createPersistedQueryLink } from '@apollo/client/link/persisted-queries';
import { createPersistedQueryManifestVerificationLink } from '@apollo/persisted-query-lists';
import { cacheExchange, createClient, fetchExchange } from '@urql/core';
import createUploadLink from 'apollo-upload-client/createUploadLink.mjs';
import { GraphQLClient } from 'graphql-request';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  APOLLO_MANIFEST_PATH,
  type ApolloPersistedQueryManifest,
  sha256Hex,
} from '../../api/src/persisted/manifest.ts';
import { makeColourImage } from '../fixtures/images/make-images.ts';
import { type ServedTestApp, serveTestApp } from '../support/served-app.ts';
import type { TestApp } from '../support/test-app.ts';

/**
 * Pixelfind's GraphQL with the clients people install from npm, over HTTP against the real API
 * and the tiny model: graphql-request, Apollo Client (apollo-upload-client, the persisted query
 * link), urql.
 */
describe('real npm GraphQL clients', { timeout: 240_000 }, () => {
  let served: ServedTestApp;
  let t: TestApp;
  let endpoint: string;
  let userKey: string;
  let partnerKey: string;
  const ids = new Map<string, string>();
  /** Every GraphQL body the clients sent, to see what went over the wire. */
  const sent: Record<string, unknown>[] = [];
  const recordingFetch: typeof fetch = async (input, init) => {
    if (typeof init?.body === 'string') sent.push(JSON.parse(init.body));
    else if (typeof input === 'string' && input.includes('extensions=')) {
      sent.push(Object.fromEntries(new URL(input).searchParams));
    }
    return fetch(input, init);
  };

  const waitIndexed = async (id: string) => {
    for (let i = 0; i < 200; i++) {
      const { body } = await t.gql<{ images: ({ status: string } | null)[] }>(
        'query($ids: [ID!]!) { images(ids: $ids) { status } }',
        { ids: [id] },
        { 'x-api-key': userKey },
      );
      if (body.data?.images[0]?.status !== 'PENDING') return body.data?.images[0]?.status;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    return 'PENDING';
  };

  beforeAll(async () => {
    served = await serveTestApp(async (app) => {
      t = app;
      userKey = (await t.services.apiKeys.create('user', 'client-dev')).key;
      partnerKey = (await t.services.apiKeys.create('partner', 'acme')).key;
      for (const colour of ['red', 'green', 'blue'] as const) {
        const { body } = await t.upload(
          await makeColourImage({ colour }),
          {},
          { headers: { 'x-api-key': userKey } },
        );
        ids.set(colour, (body.data as { uploadImage: { image: { id: string } } }).uploadImage.image.id);
      }
    });
    endpoint = `${served.url}/graphql`;
  });

  afterAll(async () => {
    await served?.close();
  });

  describe('graphql-request', () => {
    it('searches with variables and reads paging fields', async () => {
      const client = new GraphQLClient(endpoint);
      const data = await client.request<{
        search: { hasNextPage: boolean; nextOffset: number | null; hits: { image: { id: string } }[] };
      }>(
        'query($input: SearchInput!) { search(input: $input) { hasNextPage nextOffset hits { image { id } } } }',
        { input: { imageId: ids.get('red'), minSimilarity: -1, limit: 1 } },
      );
      expect(data.search.hits[0]?.image.id).toBe(ids.get('red'));
      expect(data.search).toMatchObject({ hasNextPage: true, nextOffset: 1 });
    });

    it('keeps partial data: a 200 with data and errors, null for a missing image', async () => {
      const client = new GraphQLClient(endpoint, { errorPolicy: 'all' });
      const query = `{ a: image(id: "${ids.get('red')}") { id } b: image(id: "999") { id } c: image(id: "not-an-id") { id } }`;
      const { data, errors, status } = await client.rawRequest<{
        a: { id: string } | null;
        b: null;
        c: null;
      }>(query);
      expect(status).toBe(200);
      expect(data).toEqual({ a: { id: ids.get('red') }, b: null, c: null });
      expect(errors?.map((e) => e.extensions?.code)).toEqual(['BAD_USER_INPUT']);
      // with the default policy the error is thrown, and the partial data travels with it
      const strict = new GraphQLClient(endpoint);
      const thrown = await strict.request(query).catch((error: { response: { data: unknown } }) => error);
      expect((thrown as { response: { data: unknown } }).response.data).toEqual(data);
    });
  });

  describe('Apollo Client with apollo-upload-client', () => {
    const apollo = () =>
      new ApolloClient({
        // apollo-require-preflight: the CSRF header yoga accepts for multipart requests
        link: createUploadLink({
          uri: endpoint,
          headers: { 'x-api-key': userKey, 'apollo-require-preflight': 'true' },
        }),
        cache: new InMemoryCache(),
      });

    it('uploads a file, and searches by an uploaded image that finds it once indexed', async () => {
      const client = apollo();
      const bytes = await makeColourImage({ colour: 'yellow', format: 'png' });
      const file = new File([new Uint8Array(bytes)], 'yellow.png', { type: 'image/png' });
      const uploaded = await client.mutate<{
        uploadImage: { created: boolean; image: { id: string; status: string; uploaderId: string } };
      }>({
        mutation: gql`
          mutation Upload($input: UploadImageInput!) {
            uploadImage(input: $input) { created image { id status uploaderId } }
          }
        `,
        variables: { input: { file, tagsHint: ['sun'] } },
      });
      const image = uploaded.data!.uploadImage.image;
      expect(uploaded.data!.uploadImage.created).toBe(true);
      expect(image).toMatchObject({ status: 'PENDING', uploaderId: 'client-dev' });
      expect(await waitIndexed(image.id)).toBe('INDEXED');

      const query = new File(
        [new Uint8Array(await makeColourImage({ colour: 'yellow', size: 80 }))],
        'q.png',
        {
          type: 'image/png',
        },
      );
      const found = await client.query<{ search: { hits: { image: { id: string; __typename: string } }[] } }>(
        {
          query: gql`
          query ByImage($input: SearchInput!) {
            search(input: $input) { queryId hits { score image { id } } }
          }
        `,
          variables: { input: { image: query, limit: 3 } },
          fetchPolicy: 'no-cache',
        },
      );
      expect(found.data.search.hits[0]?.image.id).toBe(image.id);
    });
  });

  describe('urql', () => {
    it('runs a query and a mutation (recordClick with its input object)', async () => {
      const client = createClient({
        url: endpoint,
        exchanges: [cacheExchange, fetchExchange],
        preferGetMethod: false,
      });
      const search = await client
        .query<{ search: { queryId: string; hits: { image: { id: string } }[] } }>(
          'query Q($input: SearchInput!) { search(input: $input) { queryId hits { image { id } } } }',
          { input: { text: 'green', limit: 2 } },
        )
        .toPromise();
      expect(search.error).toBeUndefined();
      const top = search.data!.search.hits[0]!.image.id;
      expect(top).toBe(ids.get('green'));
      const click = await client
        .mutation<{ recordClick: { ok: boolean; position: number } }>(
          'mutation C($input: RecordClickInput!) { recordClick(input: $input) { ok position } }',
          { input: { queryId: search.data!.search.queryId, imageId: top } },
        )
        .toPromise();
      expect(click.error).toBeUndefined();
      expect(click.data?.recordClick).toMatchObject({ ok: true, position: 0 });
    });
  });

  describe("persisted operations with Apollo's link", () => {
    const manifest = JSON.parse(readFileSync(APOLLO_MANIFEST_PATH, 'utf8')) as ApolloPersistedQueryManifest;
    const SEARCH = gql(readFileSync('schema/operations/search.graphql', 'utf8'));

    const persistedClient = (key: string, failures: unknown[] = []) =>
      new ApolloClient({
        link: ApolloLink.from([
          // the client-side check of @apollo/persisted-query-lists: the document matches the manifest
          createPersistedQueryManifestVerificationLink({
            loadManifest: () => manifest,
            onVerificationFailed: (details) => failures.push(details.reason),
          }),
          createPersistedQueryLink({ sha256: sha256Hex, useGETForHashedQueries: true }),
          new HttpLink({ uri: endpoint, headers: { 'x-api-key': key }, fetch: recordingFetch }),
        ]),
        cache: new InMemoryCache(),
      });

    it('a partner key runs the persisted Search by its hash alone, as Apollo hashes it (with __typename)', async () => {
      const failures: unknown[] = [];
      const client = persistedClient(partnerKey, failures);
      sent.length = 0;
      const result = await client.query<{ search: { hits: { image: { id: string } }[] } }>({
        query: SEARCH,
        variables: { input: { text: 'blue', limit: 2 } },
      });
      expect(failures).toEqual([]);
      expect(result.errors).toBeUndefined();
      expect(result.data.search.hits[0]?.image.id).toBe(ids.get('blue'));
      // one GET with the hash only: the manifest's Apollo id, no document
      expect(sent).toHaveLength(1);
      expect(sent[0]).not.toHaveProperty('query');
      const extensions = JSON.parse(String(sent[0]!.extensions)) as {
        persistedQuery: { sha256Hash: string };
      };
      expect(extensions.persistedQuery.sha256Hash).toBe(
        manifest.operations.find((o) => o.name === 'Search')!.id,
      );
    });

    it('a partner key cannot run a document outside the list, even by the APQ retry', async () => {
      const client = persistedClient(partnerKey);
      const error = await client
        .query({ query: gql`query Secret { images(ids: ["1"]) { id uploaderId } }`, fetchPolicy: 'no-cache' })
        .catch(
          (e: {
            networkError?: {
              statusCode?: number;
              result?: { errors?: { extensions?: { code?: string } }[] };
            };
          }) => e,
        );
      const networkError = (
        error as {
          networkError?: { statusCode?: number; result?: { errors?: { extensions?: { code?: string } }[] } };
        }
      ).networkError;
      expect(networkError?.statusCode).toBe(403);
      expect(networkError?.result?.errors?.[0]?.extensions?.code).toBe('PERSISTED_QUERY_ONLY');
    });

    it('a user key registers a new document by APQ and sends only its hash the next time', async () => {
      const client = persistedClient(userKey);
      const query = gql`query MyUploads($ids: [ID!]!) { images(ids: $ids) { id status } }`;
      const variables = { ids: [ids.get('red')] };
      sent.length = 0;
      const first = await client.query({ query, variables, fetchPolicy: 'no-cache' });
      expect(first.data).toEqual({
        images: [{ id: ids.get('red'), status: 'INDEXED', __typename: 'Image' }],
      });
      // a miss, then the retry with the document (a POST), which registers it
      expect(sent.some((body) => typeof body.query === 'string')).toBe(true);
      sent.length = 0;
      const second = await persistedClient(userKey).query({ query, variables, fetchPolicy: 'no-cache' });
      expect(second.data).toEqual(first.data);
      expect(sent).toHaveLength(1);
      expect(sent[0]).not.toHaveProperty('query');
    });
  });
});
