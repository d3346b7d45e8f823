// The app's one way to call the API: JSON for plain operations, the GraphQL multipart
// request for files. Every request carries the header yoga's CSRF prevention asks for.

export interface GraphQLError {
  message: string;
  extensions?: { code?: string };
}

/** A GraphQL answer with errors, or a transport failure; `code` is the API's error code. */
export class ApiError extends Error {
  readonly code: string;
  constructor(message: string, code = 'NETWORK') {
    super(message);
    this.code = code;
  }
}

let apiKey: string | null = sessionStorage.getItem('pixelfind-api-key');

/** Sends `key` as x-api-key from now on (kept for this browser tab only); null signs out. */
export function setApiKey(key: string | null) {
  apiKey = key?.trim() || null;
  if (apiKey) sessionStorage.setItem('pixelfind-api-key', apiKey);
  else sessionStorage.removeItem('pixelfind-api-key');
}
export const hasApiKey = () => apiKey !== null;

function headers(extra: Record<string, string> = {}): Record<string, string> {
  return {
    accept: 'application/graphql-response+json, application/json;q=0.9',
    'x-graphql-yoga-csrf': '1',
    ...(apiKey ? { 'x-api-key': apiKey } : {}),
    ...extra,
  };
}

async function send<T>(body: string | FormData, signal?: AbortSignal): Promise<T> {
  let response: Response;
  try {
    response = await fetch('/graphql', {
      method: 'POST',
      headers: headers(typeof body === 'string' ? { 'content-type': 'application/json' } : {}),
      body,
      signal,
    });
  } catch (error) {
    if (error instanceof DOMException && error.name === 'AbortError') throw error;
    throw new ApiError('The server could not be reached. Is Pixelfind running?');
  }
  let payload: { data?: T | null; errors?: GraphQLError[] };
  try {
    payload = await response.json();
  } catch {
    throw new ApiError(`The server answered ${response.status} without a GraphQL response`, 'BAD_GATEWAY');
  }
  const first = payload.errors?.[0];
  if (first) throw new ApiError(first.message, first.extensions?.code ?? 'ERROR');
  if (!payload.data) throw new ApiError('The server answered without data', 'ERROR');
  return payload.data;
}

export function gql<T>(query: string, variables: Record<string, unknown> = {}, signal?: AbortSignal) {
  return send<T>(JSON.stringify({ query, variables }), signal);
}

/**
 * The GraphQL multipart request: `files` maps a variables path (e.g. "input.image") to a
 * file; the variable itself is sent as null and filled in by the server.
 */
export function gqlMultipart<T>(
  query: string,
  variables: Record<string, unknown>,
  files: Record<string, Blob>,
  signal?: AbortSignal,
) {
  const form = new FormData();
  form.set('operations', JSON.stringify({ query, variables }));
  const entries = Object.entries(files);
  form.set(
    'map',
    JSON.stringify(Object.fromEntries(entries.map(([path], i) => [String(i), [`variables.${path}`]]))),
  );
  entries.forEach(([, file], i) => {
    form.set(String(i), file, file instanceof File ? file.name : 'image');
  });
  return send<T>(form, signal);
}
