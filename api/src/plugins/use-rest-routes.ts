import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Plugin, YogaServerInstance } from 'graphql-yoga';
import { keyFromHeaders } from '../auth/api-keys.service.ts';
import * as rest from '../edge-trust/rest-mapping.ts';
import {
  APOLLO_MANIFEST_PATH,
  loadPersistedManifest,
  type PersistedManifest,
} from '../persisted/manifest.ts';
import { CSRF_HEADERS } from './use-cors-csrf.ts';
import { usePartialDataStatus } from './use-partial-data-status.ts';

const OPENAPI_PATH = path.join(path.dirname(fileURLToPath(import.meta.url)), '../../../schema/openapi.json');
/** The click body is a few ids; anything bigger is not one. */
const MAX_CLICK_BODY_BYTES = 4096;
/** Headers of the GraphQL answer a REST client needs too. */
const PASSED_HEADERS = ['retry-after', 'x-pixelfind-model-version', 'cache-control'];
/** Headers of the REST request the inner GraphQL request must not inherit. */
const BODY_HEADERS = ['content-type', 'content-length', 'transfer-encoding', 'accept', 'accept-encoding'];

function operationOf(manifest: PersistedManifest, name: string) {
  for (const [hash, operation] of Object.entries(manifest)) {
    if (operation.name === name) return { hash, document: operation.document };
  }
  throw new Error(
    `Operation ${name} is missing from schema/persisted-operations.json; run npm run operations:build`,
  );
}

/**
 * The product spec's REST routes (see api/src/edge-trust/rest-mapping.ts and schema/openapi.json),
 * each run as its persisted GraphQL operation through this same yoga instance: one request to
 * `/graphql` in-process with the caller's headers, so authentication, the partner allow-list,
 * rate limits, visibility and request limits are those of GraphQL. `/openapi.json` serves the
 * document.
 *
 * CSRF: no route relies on cookies (callers authenticate with an API key header), so a
 * cross-site page can only act as the anonymous caller. `POST /images` is multipart, which a
 * cross-site form can send without a preflight: it needs one of CSRF_HEADERS or an API key
 * header (both make the browser ask first), the same rule GraphQL applies. The click takes
 * `application/json` only (a preflighted type), DELETE is preflighted by its method.
 *
 * Also registers usePartialDataStatus (GraphQL-over-HTTP status of partial data).
 */
export function useRestRoutes(options: { manifest?: PersistedManifest } = {}): Plugin {
  let yoga: YogaServerInstance<Record<string, unknown>, Record<string, unknown>> | undefined;
  let manifest = options.manifest;
  // the JSON documents served as they are on disk, read once on first request
  const documents = new Map<string, { file: string; body?: string }>([
    ['/openapi.json', { file: OPENAPI_PATH }],
    ['/persisted-query-manifest.json', { file: APOLLO_MANIFEST_PATH }],
  ]);

  async function run(
    request: Request,
    serverContext: Record<string, unknown> | undefined,
    fetchAPI: { Request: typeof Request; FormData: typeof FormData },
    call: rest.RestCall,
    file?: File,
  ): Promise<{ answer: rest.RestAnswer; headers: Headers }> {
    manifest ??= loadPersistedManifest();
    const { hash, document } = operationOf(manifest, call.operation);
    const headers = new Headers(request.headers);
    for (const name of BODY_HEADERS) headers.delete(name);
    headers.set('accept', 'application/graphql-response+json');
    const params = {
      query: document,
      operationName: call.operation,
      variables: call.variables,
      extensions: { persistedQuery: { version: 1, sha256Hash: hash } },
    };
    let body: string | FormData;
    if (file) {
      const form = new fetchAPI.FormData();
      form.set('operations', JSON.stringify(params));
      form.set('map', JSON.stringify({ 0: ['variables.input.file'] }));
      form.set('0', file, file.name || 'image');
      body = form;
      // the outer request passed the CSRF rule (see above)
      headers.set(CSRF_HEADERS[0]!, '1');
    } else {
      body = JSON.stringify(params);
      headers.set('content-type', 'application/json');
    }
    const inner = new fetchAPI.Request(new URL('/graphql', request.url), { method: 'POST', headers, body });
    const response = await yoga!.handle(inner, serverContext ?? {});
    return {
      answer: rest.restAnswerOf(call.operation, response.status, await response.text()),
      headers: response.headers,
    };
  }

  return {
    onPluginInit({ addPlugin }) {
      addPlugin(usePartialDataStatus());
    },
    onYogaInit({ yoga: instance }) {
      yoga = instance as unknown as typeof yoga;
    },
    async onRequest({ request, url, endResponse, fetchAPI, serverContext }) {
      const document = request.method === 'GET' ? documents.get(url.pathname) : undefined;
      if (document) {
        document.body ??= readFileSync(document.file, 'utf8');
        endResponse(
          new fetchAPI.Response(document.body, {
            headers: { 'content-type': 'application/json', 'cache-control': 'public, max-age=300' },
          }),
        );
        return;
      }
      const route = rest.matchRestRoute(request.method, url.pathname);
      if (!route) return;
      let result: { answer: rest.RestAnswer; headers?: Headers };
      try {
        const context = serverContext as Record<string, unknown> | undefined;
        switch (route.kind) {
          case 'search':
            result = await run(request, context, fetchAPI, rest.searchCall(url.searchParams));
            break;
          case 'image':
            result = await run(request, context, fetchAPI, rest.imageCall(route.imageId));
            break;
          case 'delete':
            result = await run(request, context, fetchAPI, rest.deleteCall(route.imageId));
            break;
          case 'click': {
            const type = (request.headers.get('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
            if (type !== 'application/json') {
              throw new rest.RestInputError(
                'UNSUPPORTED_MEDIA_TYPE',
                'Expected an application/json body { "clicked_id": "..." }',
              );
            }
            const length = Number(request.headers.get('content-length') ?? 0);
            if (length > MAX_CLICK_BODY_BYTES)
              throw new rest.RestInputError('PAYLOAD_TOO_LARGE', 'The click body is too large');
            const text = await request.text();
            if (text.length > MAX_CLICK_BODY_BYTES)
              throw new rest.RestInputError('PAYLOAD_TOO_LARGE', 'The click body is too large');
            result = await run(request, context, fetchAPI, rest.clickCall(route.queryId, text));
            break;
          }
          case 'upload': {
            const type = (request.headers.get('content-type') ?? '').toLowerCase();
            if (!type.startsWith('multipart/form-data')) {
              throw new rest.RestInputError(
                'UNSUPPORTED_MEDIA_TYPE',
                'Expected a multipart/form-data body with a file field',
              );
            }
            const preflighted =
              CSRF_HEADERS.some((name) => request.headers.has(name)) ||
              keyFromHeaders(request.headers) !== null;
            if (!preflighted) {
              throw new rest.RestInputError(
                'BAD_USER_INPUT',
                `Expected an API key or one of the headers ${CSRF_HEADERS.join(', ')} on a multipart POST (CSRF prevention)`,
              );
            }
            let form: FormData;
            try {
              form = await request.formData();
            } catch {
              throw new rest.RestInputError(
                'BAD_USER_INPUT',
                'The multipart body could not be read (or is too large)',
              );
            }
            const file = form.get('file');
            if (typeof file === 'string' || file === null) {
              throw new rest.RestInputError(
                'BAD_USER_INPUT',
                'Expected a file in the multipart field "file"',
              );
            }
            result = await run(request, context, fetchAPI, rest.uploadCall(form.get('metadata')), file);
            break;
          }
        }
      } catch (error) {
        if (!(error instanceof rest.RestInputError)) throw error;
        result = {
          answer: rest.restError(rest.REST_STATUS_OF_CODE[error.code] ?? 400, error.code, error.message),
        };
      }
      const headers: Record<string, string> = {};
      for (const name of PASSED_HEADERS) {
        const value = result.headers?.get(name);
        if (value) headers[name] = value;
      }
      endResponse(fetchAPI.Response.json(result.answer.body, { status: result.answer.status, headers }));
    },
  };
}
