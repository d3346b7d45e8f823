// The REST shapes of the product spec as one pure mapping onto the persisted GraphQL operations,
// shared by the API (plugins/use-rest-routes.ts) and the edge (it bundles this folder): a REST
// request becomes an operation name and variables, the GraphQL answer becomes the REST body.
// No Node or Worker APIs here.

/** HTTP status of an error code (the same table as api/src/errors.ts, which the edge cannot import). */
export const REST_STATUS_OF_CODE: Record<string, number> = {
  BAD_USER_INPUT: 400,
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
  PERSISTED_QUERY_ONLY: 403,
  NOT_FOUND: 404,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  RATE_LIMITED: 429,
  BAD_GATEWAY: 502,
  SERVICE_UNAVAILABLE: 503,
  TIMEOUT: 504,
};

/** The persisted operations behind the REST routes (schema/operations/*.graphql). */
export type RestOperationName = 'Search' | 'Image' | 'UploadImage' | 'RecordClick' | 'DeleteImage';

export type RestRoute =
  | { kind: 'search' }
  | { kind: 'image'; imageId: string }
  | { kind: 'upload' }
  | { kind: 'delete'; imageId: string }
  | { kind: 'click'; queryId: string };

/** A REST request that cannot become an operation: answered as `{ error }` at once. */
export class RestInputError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

const bad = (message: string) => new RestInputError('BAD_USER_INPUT', message);

/** Ids in paths are opaque here; the API's resolvers check their form. */
const SEGMENT = '([^/]{1,128})';
const IMAGE_PATH = new RegExp(`^/images/${SEGMENT}$`);
const CLICK_PATH = new RegExp(`^/search/${SEGMENT}/click$`);

/** The REST route for a method and path, or null when it is not one (other routes go on). */
export function matchRestRoute(method: string, pathname: string): RestRoute | null {
  if (pathname === '/search' && (method === 'GET' || method === 'HEAD')) return { kind: 'search' };
  if (pathname === '/images' && method === 'POST') return { kind: 'upload' };
  const image = IMAGE_PATH.exec(pathname);
  if (image) {
    const imageId = decodeURIComponent(image[1]!);
    if (method === 'GET' || method === 'HEAD') return { kind: 'image', imageId };
    if (method === 'DELETE') return { kind: 'delete', imageId };
  }
  const click = CLICK_PATH.exec(pathname);
  if (click && method === 'POST') return { kind: 'click', queryId: decodeURIComponent(click[1]!) };
  return null;
}

export interface RestCall {
  operation: RestOperationName;
  variables: Record<string, unknown>;
}

function integerParam(search: URLSearchParams, name: string): number | undefined {
  const raw = search.get(name);
  if (raw === null || raw === '') return undefined;
  if (!/^\d{1,6}$/.test(raw))
    throw bad(`Expected ${name} to be a non-negative integer but received ${JSON.stringify(raw)}`);
  return Number(raw);
}

/** Repeated (`?x=a&x=b`) or comma-separated (`?x=a,b`) values. */
export function listParam(values: string[]): string[] | undefined {
  const list = values
    .flatMap((value) => value.split(','))
    .map((value) => value.trim())
    .filter(Boolean);
  return list.length > 0 ? list : undefined;
}

function similarityParam(search: URLSearchParams, name: string): number | undefined {
  const raw = search.get(name);
  if (raw === null || raw === '') return undefined;
  const value = Number(raw);
  if (!/^-?\d+(\.\d+)?$/.test(raw) || value < -1 || value > 1)
    throw bad(`Expected ${name} to be a number between -1 and 1 but received ${JSON.stringify(raw)}`);
  return value;
}

/** `GET /search?q=&image_url=&limit=&offset=&filter_label=&min_similarity=` -> query Search. */
export function searchCall(search: URLSearchParams): RestCall {
  const text = search.get('q')?.trim() || undefined;
  const imageUrl = search.get('image_url')?.trim() || undefined;
  if (!text && !imageUrl) throw bad('Expected q (text) or image_url');
  // only present keys: the same search by GraphQL GET shares the edge's cache entry
  const input = Object.fromEntries(
    Object.entries({
      text,
      imageUrl,
      labels: listParam(search.getAll('filter_label')),
      limit: integerParam(search, 'limit'),
      offset: integerParam(search, 'offset'),
      minSimilarity: similarityParam(search, 'min_similarity'),
    }).filter(([, value]) => value !== undefined),
  );
  return { operation: 'Search', variables: { input } };
}

export const imageCall = (imageId: string): RestCall => ({ operation: 'Image', variables: { id: imageId } });
export const deleteCall = (imageId: string): RestCall => ({
  operation: 'DeleteImage',
  variables: { input: { imageId } },
});

/** `POST /search/:queryId/click` with the JSON body `{ "clicked_id": "..." }`. */
export function clickCall(queryId: string, bodyText: string): RestCall {
  let body: unknown;
  try {
    body = JSON.parse(bodyText);
  } catch {
    throw bad('Expected a JSON body { "clicked_id": "..." }');
  }
  const clicked = (body as { clicked_id?: unknown } | null)?.clicked_id;
  if (typeof clicked !== 'string' || clicked === '') throw bad('Expected clicked_id (a string) in the body');
  return { operation: 'RecordClick', variables: { input: { queryId, imageId: clicked } } };
}

/**
 * `POST /images` fields besides `file`: `metadata` is JSON `{ uploader_id, tags_hint }`.
 * The file goes in `variables.input.file` by the GraphQL multipart protocol.
 */
export function uploadCall(metadata: unknown): RestCall {
  let parsed: { uploader_id?: unknown; tags_hint?: unknown } = {};
  if (typeof metadata === 'string' && metadata.trim() !== '') {
    try {
      parsed = JSON.parse(metadata) ?? {};
    } catch {
      throw bad('Expected the multipart field "metadata" to be JSON { uploader_id, tags_hint }');
    }
    if (typeof parsed !== 'object' || Array.isArray(parsed)) {
      throw bad('Expected the multipart field "metadata" to be a JSON object');
    }
  } else if (metadata !== null && metadata !== undefined && typeof metadata !== 'string') {
    throw bad('Expected the multipart field "metadata" to be JSON text, not a file');
  }
  const { uploader_id: uploaderId, tags_hint: tagsHint } = parsed;
  if (uploaderId !== undefined && typeof uploaderId !== 'string')
    throw bad('Expected uploader_id to be a string');
  if (tagsHint !== undefined && !(Array.isArray(tagsHint) && tagsHint.every((t) => typeof t === 'string'))) {
    throw bad('Expected tags_hint to be a list of strings');
  }
  return {
    operation: 'UploadImage',
    // the uploader is the caller (the key's owner, or an id derived from an anonymous caller's
    // address); uploader_id is checked for form only, as the spec's clients send it
    variables: { input: { file: null, tagsHint: tagsHint ?? null } },
  };
}

export interface RestAnswer {
  status: number;
  body: unknown;
}

export const restError = (status: number, code: string, message: string): RestAnswer => ({
  status,
  body: { error: { code, message } },
});

type Gql = Record<string, unknown>;
interface GqlTag {
  label: string;
  confidence: number;
  source: string;
}
/** GraphQL's TagSource enum names back to the spec's strings (CLIP_ZERO_SHOT -> clip-zero-shot). */
const restTagSource = (source: string) => source.toLowerCase().replaceAll('_', '-');
const tagsOf = (tags: unknown) =>
  ((tags as GqlTag[] | null) ?? []).map(({ label, confidence, source }) => ({
    label,
    confidence,
    source: restTagSource(source),
  }));
const lower = (status: unknown) => (typeof status === 'string' ? status.toLowerCase() : status);

function shapeOf(operation: RestOperationName, data: Gql): RestAnswer | null {
  switch (operation) {
    case 'Search': {
      const search = data.search as {
        queryId: string;
        nothingRelevant: boolean;
        hits: { score: number; image: Gql }[];
      } | null;
      if (!search) return null;
      return {
        status: 200,
        body: {
          results: search.hits.map(({ score, image }) => ({
            image_id: image.id,
            storage_url: image.storageUrl,
            score,
            tags: tagsOf(image.tags),
          })),
          query_id: search.queryId,
          nothing_relevant: search.nothingRelevant,
        },
      };
    }
    case 'Image': {
      const image = data.image as Gql | null;
      if (!image) return null;
      return {
        status: 200,
        body: {
          image_id: image.id,
          storage_url: image.storageUrl,
          width: image.width,
          height: image.height,
          status: lower(image.status),
          tags: tagsOf(image.tags),
          created_at: image.createdAt,
        },
      };
    }
    case 'UploadImage': {
      const upload = data.uploadImage as { created?: boolean | null; image: Gql } | null;
      if (!upload) return null;
      const { image } = upload;
      return {
        status: upload.created === false ? 200 : 201,
        body: { image_id: image.id, status: lower(image.status), storage_url: image.storageUrl },
      };
    }
    case 'RecordClick':
      return data.recordClick ? { status: 200, body: { ok: true } } : null;
    case 'DeleteImage': {
      const deleted = data.deleteImage as { imageId: string } | null;
      return deleted ? { status: 200, body: { image_id: deleted.imageId, deleted: true } } : null;
    }
  }
}

const NOT_FOUND_MESSAGE: Record<RestOperationName, string> = {
  Search: 'No search result',
  Image: 'No such image',
  UploadImage: 'No upload result',
  RecordClick: 'No such search query',
  DeleteImage: 'No such image',
};

/**
 * The REST answer for a GraphQL response body: the spec's shape, or `{ error: { code, message } }`
 * (the first error, without locations or path) with the status of its code. `httpStatus` is the
 * status the GraphQL layer answered with; a 4xx/5xx there wins over the table.
 */
export function restAnswerOf(operation: RestOperationName, httpStatus: number, bodyText: string): RestAnswer {
  let body: { data?: Gql | null; errors?: { message?: string; extensions?: { code?: string } }[] };
  try {
    body = JSON.parse(bodyText);
  } catch {
    return restError(
      httpStatus >= 400 ? httpStatus : 502,
      'BAD_GATEWAY',
      `The API answered ${httpStatus} without a GraphQL response`,
    );
  }
  const first = body.errors?.[0];
  if (first) {
    const code = first.extensions?.code ?? 'INTERNAL_SERVER_ERROR';
    const status = httpStatus >= 400 ? httpStatus : (REST_STATUS_OF_CODE[code] ?? 500);
    return restError(status, code, first.message ?? 'Error');
  }
  return shapeOf(operation, body.data ?? {}) ?? restError(404, 'NOT_FOUND', NOT_FOUND_MESSAGE[operation]);
}
