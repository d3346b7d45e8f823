import { registerDocument, registeredDocument } from './apq-registry.ts';
import { callerOf } from './caller.ts';
import { badInput, EdgeError } from './errors.ts';
import { graphQLParamsFrom, isMultipart, readFormData, readGraphQLParams } from './graphql-request.ts';
import { resolveOperation } from './persisted-operations.ts';
import { type OperationCall, runOperation, toResponse } from './run-operation.ts';

/** Reads a GraphQL multipart request (operations, map, files) so its operation can be checked. */
async function readMultipart(request: Request): Promise<{
  raw: Record<string, unknown>;
  multipart: NonNullable<OperationCall['multipart']>;
}> {
  const form = await readFormData(request);
  const operations = form.get('operations');
  if (typeof operations !== 'string') throw badInput('Expected a multipart field "operations" holding JSON');
  let raw: unknown;
  let map: unknown = {};
  try {
    raw = JSON.parse(operations);
    const mapField = form.get('map');
    if (typeof mapField === 'string') map = JSON.parse(mapField);
  } catch {
    throw badInput('Expected the multipart fields "operations" and "map" to be valid JSON');
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw badInput('Expected "operations" to be one GraphQL request object');
  }
  if (map === null || typeof map !== 'object' || Array.isArray(map))
    throw badInput('Expected "map" to be an object');
  const files: [string, File][] = [];
  for (const name of Object.keys(map)) {
    const file = form.get(name);
    if (file instanceof File) files.push([name, file]);
  }
  return { raw: raw as Record<string, unknown>, multipart: { map: map as Record<string, string[]>, files } };
}

/** `/graphql`: persisted operations, APQ and (for keys allowed to) plain queries. */
export async function handleGraphQL(request: Request, env: Env, ctx: ExecutionContext): Promise<Response> {
  if (request.method !== 'GET' && request.method !== 'POST') {
    throw new EdgeError('METHOD_NOT_ALLOWED', 'GraphQL is served by GET and POST', {
      headers: { allow: 'GET, POST' },
    });
  }
  const url = new URL(request.url);
  const caller = callerOf(request);
  let params: ReturnType<typeof graphQLParamsFrom>;
  let multipart: OperationCall['multipart'];
  if (request.method === 'POST' && isMultipart(request)) {
    const read = await readMultipart(request);
    params = graphQLParamsFrom(read.raw);
    multipart = read.multipart;
  } else {
    params = await readGraphQLParams(request, url);
  }
  const operation = await resolveOperation(params, caller, {
    get: (hash) => registeredDocument(url.origin, hash),
    put: (hash, document) => registerDocument(ctx, url.origin, hash, document),
  });
  if (request.method === 'GET' && operation.persisted && operation.persisted.type !== 'query') {
    throw new EdgeError('METHOD_NOT_ALLOWED', 'Mutations are sent by POST', { headers: { allow: 'POST' } });
  }
  const answer = await runOperation(request, env, ctx, {
    operation,
    caller,
    viaGet: request.method === 'GET',
    multipart,
  });
  return toResponse(answer);
}
