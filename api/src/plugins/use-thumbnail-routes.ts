import type { Plugin } from 'graphql-yoga';
import type { LogSink } from '../../../search-cluster/src/index.ts';
import { isImageId } from '../images/image-id.ts';
import type { PublicImageLookup } from '../thumbs/public-image.ts';
import { DEFAULT_THUMB_SIZE, isThumbSize, THUMB_SIZES, type Thumbnails } from '../thumbs/thumbnails.ts';

const PATH = /^\/thumbs\/([^/]+)\.webp$/;

/**
 * `GET /thumbs/<imageId>.webp?size=256`: a WebP thumbnail of an image the public may see, 404
 * for any other (missing, pending, rejected, deleted or blocked look the same). Browsers
 * revalidate every time (`no-cache` + ETag), so a takedown applies to the next view.
 */
export function useThumbnailRoutes(options: {
  thumbnails: Thumbnails;
  publicImage: PublicImageLookup;
  /** Where a thumbnail that could not be made is reported. */
  log?: Pick<LogSink, 'error'>;
}): Plugin {
  return {
    onRequest({ request, url, endResponse, fetchAPI }) {
      const match = PATH.exec(url.pathname);
      if (!match) return;
      const json = (status: number, code: string, message: string, headers: Record<string, string> = {}) =>
        endResponse(fetchAPI.Response.json({ error: { code, message } }, { status, headers }));
      if (request.method !== 'GET' && request.method !== 'HEAD') {
        json(405, 'METHOD_NOT_ALLOWED', `${request.method} is not served on /thumbs`, { allow: 'GET, HEAD' });
        return;
      }
      const id = match[1] ?? '';
      const size = Number(url.searchParams.get('size') ?? DEFAULT_THUMB_SIZE);
      if (!isThumbSize(size)) {
        json(400, 'BAD_USER_INPUT', `Expected size to be one of ${THUMB_SIZES.join(', ')}`);
        return;
      }
      if (!isImageId(id)) {
        json(404, 'NOT_FOUND', 'No such thumbnail');
        return;
      }
      return (async () => {
        const image = await options.publicImage(id);
        const bytes = image ? await options.thumbnails.get(image, size) : null;
        if (!image || !bytes) {
          json(404, 'NOT_FOUND', 'No such thumbnail');
          return;
        }
        const etag = `"${image.sha256.slice(0, 32)}-${size}"`;
        const headers = {
          'content-type': 'image/webp',
          'cache-control': 'public, no-cache',
          etag,
          'x-content-type-options': 'nosniff',
        };
        if (request.headers.get('if-none-match') === etag) {
          endResponse(new fetchAPI.Response(null, { status: 304, headers }));
          return;
        }
        endResponse(
          new fetchAPI.Response(request.method === 'HEAD' ? null : new Uint8Array(bytes), {
            headers: { ...headers, 'content-length': String(bytes.length) },
          }),
        );
      })().catch((error: unknown) => {
        options.log?.error('thumbnail failed', {
          imageId: id,
          error: error instanceof Error ? (error.stack ?? error.message) : String(error),
        });
        json(500, 'INTERNAL_SERVER_ERROR', 'The thumbnail could not be made');
      });
    },
  };
}
