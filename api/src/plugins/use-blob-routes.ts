import type { Plugin } from 'graphql-yoga';
import { type BlobStore, isValidBlobKey } from '../blobs/blob-store.ts';

/** Serves stored image bytes at `/blobs/<key>` for stores without a public URL (local disk). */
export function useBlobRoutes(options: { blobs: BlobStore; prefix?: string }): Plugin {
  const prefix = options.prefix ?? '/blobs/';
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
      return options.blobs
        .get(key)
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
                // content-addressed keys never change their bytes
                'cache-control': 'public, max-age=31536000, immutable',
                'x-content-type-options': 'nosniff',
              },
            }),
          );
        });
    },
  };
}
