// The REST shapes of the product spec, each mapped onto a persisted GraphQL operation so that
// they share the allow-list, the caches and the API's validation.
import { callerOf } from './caller.ts';
import { badInput, EdgeError, jsonResponse } from './errors.ts';
import { readBodyLimited, searchParamsOf } from './graphql-request.ts';
import { MAX_JSON_BODY_BYTES, MAX_TEXT_BYTES } from './limits.ts';
import { persistedOperation, type ResolvedOperation } from './persisted-operations.ts';
import { type OperationAnswer, type OperationCall, runOperation } from './run-operation.ts';

type Data = Record<string, unknown>;

/** HTTP status for a GraphQL error code the API answered with inside a 200. */
const STATUS_OF_CODE: Record<string, number> = {
  BAD_USER_INPUT: 400,
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
  PERSISTED_QUERY_ONLY: 403,
  NOT_FOUND: 404,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  SERVICE_UNAVAILABLE: 503,
  TIMEOUT: 504,
};

function operationCalled(name: string, variables: Record<string, unknown>): ResolvedOperation {
  const { hash, operation } = persistedOperation(name);
  return { hash, persisted: operation, query: operation.document, variables, operationName: name };
}

/** The REST answer: the operation's root field as JSON, or `{ errors }` with a fitting status. */
function restResponse(answer: OperationAnswer, field: string, successStatus = 200): Response {
  const headers: Record<string, string> = { 'x-cache': answer.cache };
  for (const name of ['x-pixelfind-model-version', 'cache-control']) {
    const value = answer.headers.get(name);
    if (value) headers[name] = value;
  }
  let body: { data?: Data | null; errors?: { extensions?: { code?: string } }[] };
  try {
    body = JSON.parse(answer.body);
  } catch {
    throw new EdgeError('BAD_GATEWAY', `The API answered ${answer.status} without a GraphQL response`);
  }
  if (body.errors?.length) {
    const code = body.errors[0]?.extensions?.code ?? '';
    const status = answer.status >= 400 ? answer.status : (STATUS_OF_CODE[code] ?? 500);
    return jsonResponse({ errors: body.errors }, status, headers);
  }
  const value = body.data?.[field];
  if (value === null || value === undefined) {
    return jsonResponse(
      { errors: [{ message: `No such ${field}`, extensions: { code: 'NOT_FOUND' } }] },
      404,
      headers,
    );
  }
  return jsonResponse(value, successStatus, headers);
}

function integerParam(search: URLSearchParams, name: string): number | undefined {
  const raw = search.get(name);
  if (raw === null || raw === '') return undefined;
  if (!/^\d{1,6}$/.test(raw))
    throw badInput(`Expected ${name} to be a non-negative integer but received ${JSON.stringify(raw)}`);
  return Number(raw);
}

/** Repeated (`?x=a&x=b`) or comma-separated (`?x=a,b`) values. */
function listParam(values: string[]): string[] | undefined {
  const list = values
    .flatMap((value) => value.split(','))
    .map((value) => value.trim())
    .filter(Boolean);
  return list.length > 0 ? list : undefined;
}

/** `GET /search?q=&image_url=&limit=&offset=&filter_label=` -> query Search. */
export async function handleSearch(request: Request, env: Env, ctx: ExecutionContext): Promise<Response> {
  const search = searchParamsOf(new URL(request.url));
  const text = search.get('q')?.trim() || undefined;
  const imageUrl = search.get('image_url')?.trim() || undefined;
  if (!text && !imageUrl) throw badInput('Expected q (text) or image_url');
  if (text && new TextEncoder().encode(text).length > MAX_TEXT_BYTES) {
    throw badInput(`Expected q to be at most ${MAX_TEXT_BYTES} bytes`);
  }
  // only present keys: the same search by GraphQL GET shares the cache entry
  const input = Object.fromEntries(
    Object.entries({
      text,
      imageUrl,
      labels: listParam(search.getAll('filter_label')),
      limit: integerParam(search, 'limit'),
      offset: integerParam(search, 'offset'),
    }).filter(([, value]) => value !== undefined),
  );
  const operation = operationCalled('Search', { input });
  const answer = await runOperation(request, env, ctx, {
    operation,
    caller: callerOf(request),
    viaGet: true,
  });
  return restResponse(answer, 'search');
}

/** `GET /images/:id` -> query Image. */
export async function handleImage(
  request: Request,
  env: Env,
  ctx: ExecutionContext,
  id: string,
): Promise<Response> {
  const operation = operationCalled('Image', { id });
  const answer = await runOperation(request, env, ctx, {
    operation,
    caller: callerOf(request),
    viaGet: true,
  });
  return restResponse(answer, 'image');
}

/** `POST /images` (multipart: file, uploader_id, tags_hint) -> mutation UploadImage. */
export async function handleUpload(request: Request, env: Env, ctx: ExecutionContext): Promise<Response> {
  if (!(request.headers.get('content-type') ?? '').toLowerCase().startsWith('multipart/form-data')) {
    throw new EdgeError('UNSUPPORTED_MEDIA_TYPE', 'Expected a multipart/form-data body with a file field');
  }
  let form: FormData;
  try {
    form = await request.formData();
  } catch {
    throw badInput('The multipart body could not be read');
  }
  const file = form.get('file');
  if (!(file instanceof File)) throw badInput('Expected a file in the multipart field "file"');
  const uploaderId = form.get('uploader_id') ?? form.get('uploaderId');
  const tags = [...form.getAll('tags_hint'), ...form.getAll('tagsHint')].filter(
    (v): v is string => typeof v === 'string',
  );
  const variables: Record<string, unknown> = {
    file: null,
    uploaderId: typeof uploaderId === 'string' ? uploaderId : null,
    tagsHint: listParam(tags) ?? null,
  };
  const multipart: OperationCall['multipart'] = { map: { 0: ['variables.file'] }, files: [['0', file]] };
  const operation = operationCalled('UploadImage', variables);
  const answer = await runOperation(request, env, ctx, {
    operation,
    caller: callerOf(request),
    viaGet: false,
    multipart,
  });
  return restResponse(answer, 'uploadImage', 201);
}

/** `POST /search/:queryId/click` with `{ "image_id": "..." }` (or `imageId`, or `?image_id=`) -> mutation RecordClick. */
export async function handleClick(
  request: Request,
  env: Env,
  ctx: ExecutionContext,
  queryId: string,
): Promise<Response> {
  let imageId: unknown = new URL(request.url).searchParams.get('image_id');
  const text = await readBodyLimited(request, MAX_JSON_BODY_BYTES);
  if (text.trim() !== '') {
    let body: { image_id?: unknown; imageId?: unknown } | null;
    try {
      body = JSON.parse(text);
    } catch {
      throw badInput('The request body is not valid JSON');
    }
    imageId = body?.image_id ?? body?.imageId ?? imageId;
  }
  if (typeof imageId !== 'string' || imageId === '') throw badInput('Expected image_id');
  const operation = operationCalled('RecordClick', { queryId, imageId });
  const answer = await runOperation(request, env, ctx, {
    operation,
    caller: callerOf(request),
    viaGet: false,
  });
  return restResponse(answer, 'recordClick');
}
