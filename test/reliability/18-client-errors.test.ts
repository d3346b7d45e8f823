import { describe, expect, it } from 'vitest';
import { makeColourImage } from '../fixtures/images/make-images.ts';
import { backends } from '../support/backends.ts';
import type { TestApp } from '../support/test-app.ts';
import { UPLOAD_MUTATION } from '../support/upload-form.ts';
import { useTestApps } from '../support/use-test-apps.ts';

const SEARCH = 'query($input: SearchInput!) { search(input: $input) { queryId } }';
const URL_ = 'http://pixelfind.test/graphql';
// what a message must never carry: object dumps, stacks, internals
const INTERNALS = /\[object |\bat .+\.(ts|js):\d|Symbol\(|\[Function|File \{|Blob \{|prototype/;

interface Answer {
  status: number;
  body: { data?: unknown; errors?: { message: string; extensions?: { code?: string } }[] };
}

describe.each(backends)('item 18: client mistakes are coded 400s ($name)', ({ create }) => {
  let t: TestApp;

  useTestApps(
    create,
    async (open) => {
      t = await open();
    },
    60_000,
  );

  const expectClientError = ({ status, body }: Answer) => {
    expect(body.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(status).toBe(400);
    for (const error of body.errors ?? []) expect(error.message).not.toMatch(INTERNALS);
  };

  const raw = async (body: string): Promise<Answer> => {
    const response = await t.app.fetch(URL_, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json' },
      body,
    });
    return { status: response.status, body: (await response.json()) as Answer['body'] };
  };

  const variableCases: [string, unknown][] = [
    ['limit beyond 32 bits', { text: 'red', limit: 2147483648 }],
    ['limit as a string', { text: 'red', limit: '5' }],
    ['an unknown fusion', { text: 'red', image: null, fusion: 'MIDDLE' }],
    ['input as a list', [{ text: 'red' }]],
    ['a JSON object where an Upload belongs', { text: 'red', image: { name: 'x.png', size: 3 } }],
    ['labels as an object', { text: 'red', labels: { a: 1 } }],
  ];
  for (const [name, input] of variableCases) {
    it(`answers ${name} with BAD_USER_INPUT / 400`, async () => {
      expectClientError(await t.gql(SEARCH, { input: input as Record<string, unknown> }));
    });
  }

  it('answers textWeight 1e400 (Infinity after JSON parsing) with BAD_USER_INPUT / 400', async () => {
    expectClientError(
      await raw(
        `{"query":${JSON.stringify(SEARCH)},"variables":{"input":{"text":"red","textWeight":1e400}}}`,
      ),
    );
  });

  const multipart = async (map: string, operations?: string): Promise<Answer> => {
    const form = new FormData();
    form.set(
      'operations',
      operations ?? JSON.stringify({ query: UPLOAD_MUTATION, variables: { input: { file: null } } }),
    );
    form.set('map', map);
    form.set(
      '0',
      new Blob([new Uint8Array(await makeColourImage({ colour: 'red' }))], { type: 'image/png' }),
      'a.png',
    );
    const response = await t.app.fetch(URL_, {
      method: 'POST',
      headers: { accept: 'application/graphql-response+json', 'x-graphql-yoga-csrf': '1' },
      body: form,
    });
    return { status: response.status, body: (await response.json()) as Answer['body'] };
  };

  for (const map of [
    '[["variables.input.file"]]',
    '"variables.input.file"',
    'null',
    '7',
    '{"0": "variables.input.file"}',
    'not json',
  ]) {
    it(`answers a multipart map of ${map} with BAD_USER_INPUT / 400`, async () => {
      expectClientError(await multipart(map));
    });
  }

  it('answers a file mapped onto a String variable with BAD_USER_INPUT / 400, no File dump', async () => {
    const operations = JSON.stringify({ query: SEARCH, variables: { input: { text: null } } });
    expectClientError(await multipart('{"0": ["variables.input.text"]}', operations));
  });
});
