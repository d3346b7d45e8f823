// The REST shapes of the product spec: one pure mapping shared with the API
// (api/src/edge-trust/rest-mapping.ts), each route run as its persisted GraphQL operation so
// that they share the allow-list, the caches and the API's validation.
import {
  clickCall,
  deleteCall,
  imageCall,
  REST_STATUS_OF_CODE,
  type RestAnswer,
  type RestCall,
  RestInputError,
  restAnswerOf,
  restError,
  searchCall,
  uploadCall,
} from '../../api/src/edge-trust/rest-mapping.ts';
import { callerOf } from './caller.ts';
import { EdgeError, jsonResponse } from './errors.ts';
import { readBodyLimited, searchParamsOf } from './graphql-request.ts';
import { MAX_JSON_BODY_BYTES, MAX_TEXT_BYTES } from './limits.ts';
import { persistedOperation, type ResolvedOperation } from './persisted-operations.ts';
import { type OperationAnswer, type OperationCall, runOperation } from './run-operation.ts';

function operationCalled({ operation: name, variables }: RestCall): ResolvedOperation {
  const { hash, operation } = persistedOperation(name);
  return { hash, persisted: operation, query: operation.document, variables, operationName: name };
}

function restResponse(answer: RestAnswer, headers: Record<string, string> = {}): Response {
  return jsonResponse(answer.body, answer.status, headers);
}

/** The REST answer of an operation's GraphQL answer, with the headers a client needs. */
function answered(call: RestCall, answer: OperationAnswer): Response {
  const headers: Record<string, string> = { 'x-cache': answer.cache };
  for (const name of ['x-pixelfind-model-version', 'cache-control', 'retry-after']) {
    const value = answer.headers.get(name);
    if (value) headers[name] = value;
  }
  return restResponse(restAnswerOf(call.operation, answer.status, answer.body), headers);
}

/** Runs a REST route; its input and edge errors answer as `{ error: { code, message } }`. */
async function rest(run: () => Promise<Response>): Promise<Response> {
  try {
    return await run();
  } catch (error) {
    if (error instanceof RestInputError) {
      return restResponse(restError(REST_STATUS_OF_CODE[error.code] ?? 400, error.code, error.message));
    }
    if (error instanceof EdgeError) {
      return restResponse(restError(error.status, error.code, error.message));
    }
    throw error;
  }
}

async function runRest(
  request: Request,
  env: Env,
  ctx: ExecutionContext,
  call: RestCall,
  options: { viaGet: boolean; multipart?: OperationCall['multipart'] },
): Promise<Response> {
  const answer = await runOperation(request, env, ctx, {
    operation: operationCalled(call),
    caller: callerOf(request),
    ...options,
  });
  return answered(call, answer);
}

/** `GET /search?q=&image_url=&limit=&offset=&filter_label=` -> query Search. */
export const handleSearch = (request: Request, env: Env, ctx: ExecutionContext): Promise<Response> =>
  rest(async () => {
    const search = searchParamsOf(new URL(request.url));
    const text = search.get('q')?.trim();
    if (text && new TextEncoder().encode(text).length > MAX_TEXT_BYTES) {
      throw new RestInputError('BAD_USER_INPUT', `Expected q to be at most ${MAX_TEXT_BYTES} bytes`);
    }
    return runRest(request, env, ctx, searchCall(search), { viaGet: true });
  });

/** `GET /images/:id` -> query Image. */
export const handleImage = (request: Request, env: Env, ctx: ExecutionContext, id: string) =>
  rest(() => runRest(request, env, ctx, imageCall(id), { viaGet: true }));

/** `DELETE /images/:id` -> mutation DeleteImage. */
export const handleDelete = (request: Request, env: Env, ctx: ExecutionContext, id: string) =>
  rest(() => runRest(request, env, ctx, deleteCall(id), { viaGet: false }));

/** `POST /images` (multipart: `file`, `metadata` JSON `{ uploader_id, tags_hint }`) -> mutation UploadImage. */
export const handleUpload = (request: Request, env: Env, ctx: ExecutionContext): Promise<Response> =>
  rest(async () => {
    if (!(request.headers.get('content-type') ?? '').toLowerCase().startsWith('multipart/form-data')) {
      throw new RestInputError(
        'UNSUPPORTED_MEDIA_TYPE',
        'Expected a multipart/form-data body with a file field',
      );
    }
    let form: FormData;
    try {
      form = await request.formData();
    } catch {
      throw new RestInputError('BAD_USER_INPUT', 'The multipart body could not be read');
    }
    const file = form.get('file');
    if (!(file instanceof File)) {
      throw new RestInputError('BAD_USER_INPUT', 'Expected a file in the multipart field "file"');
    }
    const multipart: OperationCall['multipart'] = {
      map: { 0: ['variables.input.file'] },
      files: [['0', file]],
    };
    return runRest(request, env, ctx, uploadCall(form.get('metadata')), { viaGet: false, multipart });
  });

/** `POST /search/:queryId/click` with the JSON body `{ "clicked_id": "..." }` -> mutation RecordClick. */
export const handleClick = (request: Request, env: Env, ctx: ExecutionContext, queryId: string) =>
  rest(async () => {
    const type = (request.headers.get('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
    if (type !== 'application/json') {
      throw new RestInputError(
        'UNSUPPORTED_MEDIA_TYPE',
        'Expected an application/json body { "clicked_id": "..." }',
      );
    }
    const text = await readBodyLimited(request, MAX_JSON_BODY_BYTES);
    return runRest(request, env, ctx, clickCall(queryId, text), { viaGet: false });
  });
