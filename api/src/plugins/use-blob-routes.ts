import type { Plugin } from 'graphql-yoga';
import { type BlobStore, isValidBlobKey } from '../blobs/blob-store.ts';

/**
 * Browsers may keep the bytes this long; shared caches (CDNs, proxies) never store them, since a
 * takedown could not reach their copy. Content-addressed keys would allow `immutable` for a year,
 * but an image that can still be flagged must not outlive its takedown by more than this.
 */
export const BLOB_CACHE_CONTROL = 'private, max-age=60';

export interface BlobRouteOptions {
  blobs: BlobStore;
  /** Default `/blobs/`. */
  prefix?: string;
  /** May this request see the blob? (visibility rule: api/src/images/visibility.ts). Default: yes. */
  canServe?: (key: string, request: Request) => Promise<boolean>;
}

/** Serves stored image bytes at `/blobs/<key>` for stores without a public URL (local disk). */
export function useBlobRoutes(options: BlobRouteOptions): Plugin {
  const prefix = options.prefix ?? '/blobs/';
  const canServe = options.canServe ?? (async () => true);
  return {
    onRequest({ request, url, endResponse, fetchAPI }) {
      if (!url.pathname.startsWith(prefix)) return;
      if (request.method !== 'GET' && request.method !== 'HEAD') {
        endResponse(new fetchAPI.Response(null, { status: 405, headers: { allow: 'GET, HEAD' } }));
        return;
      }
      let key = '';
      try {
        key = decodeURIComponent(url.pathname.slice(prefix.length));
      } catch {
        // a malformed escape is just another name that no blob has
      }
      // thumbnails are served by /thumbs, which checks visibility first
      if (!isValidBlobKey(key) || key.startsWith('thumbs/')) {
        endResponse(fetchAPI.Response.json({ error: 'not found' }, { status: 404 }));
        return;
      }
      return canServe(key, request)
        .then((allowed) => (allowed ? options.blobs.get(key) : null))
        .catch(() => null)
        .then((blob) => {
          if (!blob) {
            endResponse(fetchAPI.Response.json({ error: 'not found' }, { status: 404 }));
            return;
          }
          endResponse(
            new fetchAPI.Response(request.method === 'HEAD' ? null : new Uint8Array(blob.bytes), {
              headers: {
                'content-type': blob.contentType,
                'content-length': String(blob.bytes.length),
                'cache-control': BLOB_CACHE_CONTROL,
                'x-content-type-options': 'nosniff',
              },
            }),
          );
        });
    },
  };
}
