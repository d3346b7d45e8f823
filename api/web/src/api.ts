import { gql, gqlMultipart } from './graphql.ts';

export interface Tag {
  label: string;
  confidence: number;
  source: string;
}
export type ImageStatus = 'PENDING' | 'INDEXED' | 'REJECTED' | 'FAILED' | 'DELETED';
export interface ImageInfo {
  id: string;
  width: number;
  height: number;
  status: ImageStatus;
  createdAt: string;
  storageUrl: string;
  tags: Tag[];
}
export interface Hit {
  score: number;
  similarity: number;
  image: ImageInfo;
}
export interface SearchPage {
  queryId: string;
  modelVersion: string;
  partial: boolean;
  /** More results follow (the API's paging answer, not a guess from the page size). */
  hasNextPage: boolean;
  /** the server found nothing similar enough to be relevant (hits is empty) */
  nothingRelevant: boolean;
  hits: Hit[];
}

/** What the person asked: text, one reference image (file, URL or indexed id), or both. */
export interface Query {
  text: string;
  reference: Reference | null;
  textWeight: number;
  fusion: 'EARLY' | 'LATE';
  labels: string[];
}
export type Reference =
  | { kind: 'file'; file: Blob; name: string; previewUrl: string }
  | { kind: 'url'; url: string }
  | { kind: 'id'; id: string };

export const PAGE_SIZE = 24;

const IMAGE_FIELDS = 'id width height status createdAt storageUrl tags { label confidence source }';
const SEARCH = `query WebSearch($input: SearchInput!) {
  search(input: $input) { queryId modelVersion partial hasNextPage nothingRelevant hits { score similarity image { ${IMAGE_FIELDS} } } }
}`;

export const isEmptyQuery = (q: Query) => q.text.trim() === '' && q.reference === null;

export async function search(query: Query, offset: number, signal?: AbortSignal): Promise<SearchPage> {
  const input: Record<string, unknown> = { limit: PAGE_SIZE, offset };
  const text = query.text.trim();
  if (text) input.text = text;
  if (query.labels.length > 0) input.labels = query.labels;
  const ref = query.reference;
  if (ref && text) {
    input.textWeight = query.textWeight;
    input.fusion = query.fusion;
  }
  if (ref?.kind === 'url') input.imageUrl = ref.url;
  if (ref?.kind === 'id') input.imageId = ref.id;
  if (ref?.kind === 'file') {
    const data = await gqlMultipart<{ search: SearchPage }>(
      SEARCH,
      { input: { ...input, image: null } },
      { 'input.image': ref.file },
      signal,
    );
    return data.search;
  }
  return (await gql<{ search: SearchPage }>(SEARCH, { input }, signal)).search;
}

export async function recordClick(queryId: string, imageId: string): Promise<void> {
  await gql('mutation WebClick($input: RecordClickInput!) { recordClick(input: $input) { ok } }', {
    input: { queryId, imageId },
  });
}

/** Uploads as the caller: the API key's owner, or the browser's address when anonymous. */
export async function uploadImage(file: File): Promise<{ id: string; status: ImageStatus }> {
  const data = await gqlMultipart<{ uploadImage: { image: { id: string; status: ImageStatus } } }>(
    `mutation WebUpload($input: UploadImageInput!) {
      uploadImage(input: $input) { image { id status } }
    }`,
    { input: { file: null } },
    { 'input.file': file },
  );
  return data.uploadImage.image;
}

export async function statuses(ids: string[]): Promise<Map<string, ImageStatus>> {
  const data = await gql<{ images: ({ id: string; status: ImageStatus } | null)[] }>(
    'query WebStatuses($ids: [ID!]!) { images(ids: $ids) { id status } }',
    { ids },
  );
  return new Map(data.images.flatMap((image) => (image ? [[image.id, image.status] as const] : [])));
}

export const thumbUrl = (id: string, size = 256) => `/thumbs/${encodeURIComponent(id)}.webp?size=${size}`;

/** Facts the server writes into index.html (use-web-app.ts). */
export function pageMeta(name: string): string {
  return document.querySelector<HTMLMetaElement>(`meta[name="pixelfind-${name}"]`)?.content ?? '';
}

export const isTinyModel = (modelVersion: string) => modelVersion.startsWith('tiny-');
