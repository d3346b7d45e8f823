import { badInput, EdgeError } from './errors.ts';
import { MAX_DOCUMENT_BYTES, MAX_JSON_BODY_BYTES, MAX_QUERY_STRING_BYTES } from './limits.ts';

/** A GraphQL request as sent by a client, before the persisted-operation lookup. */
export interface GraphQLParams {
  query?: string;
  /** GET `?id=` or a body `id`: a persisted operation's sha256. */
  id?: unknown;
  variables: Record<string, unknown>;
  operationName?: string;
  extensions?: Record<string, unknown>;
}

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** Parses a JSON object field that may arrive as text (GET, multipart) or already parsed (POST). */
function objectField(name: string, value: unknown): Record<string, unknown> | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  let parsed = value;
  if (typeof value === 'string') {
    try {
      parsed = JSON.parse(value);
    } catch {
      throw badInput(`Expected ${name} to be a JSON object but it is not valid JSON`);
    }
  }
  if (parsed === null) return undefined;
  if (!isObject(parsed)) throw badInput(`Expected ${name} to be a JSON object but received ${typeof parsed}`);
  return parsed;
}

function stringField(name: string, value: unknown): string | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value !== 'string') throw badInput(`Expected ${name} to be a string`);
  return value;
}

/** Checks and normalises the fields every transport carries. */
export function graphQLParamsFrom(raw: Record<string, unknown>): GraphQLParams {
  const query = stringField('query', raw.query);
  if (query !== undefined && new TextEncoder().encode(query).length > MAX_DOCUMENT_BYTES) {
    throw new EdgeError(
      'PAYLOAD_TOO_LARGE',
      `The GraphQL document is larger than ${MAX_DOCUMENT_BYTES} bytes; use a persisted operation`,
    );
  }
  return {
    query,
    id: raw.id ?? undefined,
    variables: objectField('variables', raw.variables) ?? {},
    operationName: stringField('operationName', raw.operationName),
    extensions: objectField('extensions', raw.extensions),
  };
}

/** The request body as text, refusing (413) past `limit` bytes without reading further. */
export async function readBodyLimited(request: Request, limit: number): Promise<string> {
  const declared = Number(request.headers.get('content-length'));
  if (declared > limit)
    throw new EdgeError('PAYLOAD_TOO_LARGE', `The request body is larger than ${limit} bytes`);
  if (!request.body) return '';
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel();
      throw new EdgeError('PAYLOAD_TOO_LARGE', `The request body is larger than ${limit} bytes`);
    }
    chunks.push(value);
  }
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return new TextDecoder().decode(bytes);
}

/** The query string of a GET, refusing (414) one too long to be a sane GraphQL request. */
export function searchParamsOf(url: URL): URLSearchParams {
  const length = new TextEncoder().encode(url.search).length;
  if (length > MAX_QUERY_STRING_BYTES) {
    throw badInput(
      `The query string is ${length} bytes; the limit is ${MAX_QUERY_STRING_BYTES}. Send a persisted id or POST`,
      414,
    );
  }
  return url.searchParams;
}

/** The multipart form of a request; a body that is not one is bad input. */
export async function readFormData(request: Request): Promise<FormData> {
  try {
    return await request.formData();
  } catch {
    throw badInput('The multipart body could not be read');
  }
}

export const isMultipart = (request: Request) =>
  (request.headers.get('content-type') ?? '').toLowerCase().startsWith('multipart/form-data');

/** GraphQL parameters of a GET or JSON POST (multipart is read by the upload path). */
export async function readGraphQLParams(request: Request, url: URL): Promise<GraphQLParams> {
  if (request.method === 'GET') {
    const search = searchParamsOf(url);
    return graphQLParamsFrom(
      Object.fromEntries(
        ['query', 'id', 'variables', 'operationName', 'extensions'].map((name) => [
          name,
          search.get(name) ?? undefined,
        ]),
      ),
    );
  }
  const type = (request.headers.get('content-type') ?? '').toLowerCase();
  if (!type.startsWith('application/json') && !type.startsWith('application/graphql-response+json')) {
    throw new EdgeError(
      'UNSUPPORTED_MEDIA_TYPE',
      'Expected content-type application/json or multipart/form-data',
    );
  }
  const text = await readBodyLimited(request, MAX_JSON_BODY_BYTES);
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw badInput('The request body is not valid JSON');
  }
  if (Array.isArray(body))
    throw badInput('Batched requests are not supported; send one operation per request');
  if (!isObject(body)) throw badInput('Expected the request body to be a JSON object');
  return graphQLParamsFrom(body);
}
