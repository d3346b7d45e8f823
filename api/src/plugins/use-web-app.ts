import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Plugin } from 'graphql-yoga';

/** The page may load only what this origin serves: no CDN, no inline script, no framing. */
export const WEB_APP_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' blob: data:",
  "connect-src 'self'",
  "font-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

const TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.webp': 'image/webp',
  '.woff2': 'font/woff2',
  '.json': 'application/json',
};

/** `api/web/dist`, found from this file in the source tree and in a compiled `dist/` copy. */
export function defaultWebDistDir(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    if (existsSync(path.join(dir, 'package.json'))) return path.join(dir, 'api/web/dist');
    dir = path.dirname(dir);
  }
  return path.resolve('api/web/dist');
}

const NOT_BUILT = `<!doctype html><html lang="en"><meta charset="utf-8"><title>Pixelfind</title>
<body style="font-family:system-ui;max-width:40rem;margin:3rem auto;line-height:1.5">
<h1>Pixelfind is running</h1>
<p>The web app has not been built yet. Build it with</p>
<pre>npm run build:web</pre>
<p>(or <code>npm run setup</code>), then reload this page. The GraphQL API is at <a href="/graphql">/graphql</a>.</p>
</body></html>`;

const escapeAttribute = (value: string) =>
  value.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** Fills `<meta name="pixelfind-<name>" content="">`: facts the page needs before any query. */
export function fillMeta(html: string, values: Record<string, string>): string {
  return html.replace(/<meta name="pixelfind-([a-z-]+)" content="">/g, (tag, name: string) =>
    name in values ? `<meta name="pixelfind-${name}" content="${escapeAttribute(values[name]!)}">` : tag,
  );
}

/**
 * Serves the web app built by `npm run build:web`: `/` is index.html (`no-cache`, so a new
 * build shows at once) and `/assets/*` are Vite's content-hashed files (cached for a year).
 * When the build is missing, `/` says how to make it instead of a 404.
 */
export function useWebApp(
  options: {
    /** The build's directory. Default api/web/dist. */
    dir?: string;
    assetsPrefix?: string;
    /** Values for index.html's `<meta name="pixelfind-<name>" content="">` tags, per request. */
    meta?: () => Record<string, string>;
  } = {},
): Plugin {
  const dir = options.dir ?? defaultWebDistDir();
  const assetsPrefix = options.assetsPrefix ?? '/assets/';
  const assetsDir = path.join(dir, 'assets');
  const security = {
    'content-security-policy': WEB_APP_CSP,
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
  };
  return {
    onRequest({ request, url, endResponse, fetchAPI }) {
      const isIndex = url.pathname === '/' || url.pathname === '/index.html';
      if (!isIndex && !url.pathname.startsWith(assetsPrefix)) return;
      if (request.method !== 'GET' && request.method !== 'HEAD') {
        endResponse(new fetchAPI.Response(null, { status: 405, headers: { allow: 'GET, HEAD' } }));
        return;
      }
      const body = (bytes: Uint8Array<ArrayBuffer> | string) => (request.method === 'HEAD' ? null : bytes);
      if (isIndex) {
        return readFile(path.join(dir, 'index.html'), 'utf8').then(
          (html) =>
            endResponse(
              new fetchAPI.Response(body(fillMeta(html, options.meta?.() ?? {})), {
                headers: {
                  'content-type': 'text/html; charset=utf-8',
                  'cache-control': 'no-cache',
                  ...security,
                },
              }),
            ),
          () =>
            endResponse(
              new fetchAPI.Response(body(NOT_BUILT), {
                status: 503,
                headers: {
                  'content-type': 'text/html; charset=utf-8',
                  'cache-control': 'no-store',
                  ...security,
                },
              }),
            ),
        );
      }
      const name = url.pathname.slice(assetsPrefix.length);
      // Vite's asset names are flat: one segment, no dot-files, nothing to traverse
      const type = TYPES[path.extname(name)];
      if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(name) || !type) {
        endResponse(
          fetchAPI.Response.json({ error: { code: 'NOT_FOUND', message: 'No such asset' } }, { status: 404 }),
        );
        return;
      }
      return readFile(path.join(assetsDir, name)).then(
        (bytes) =>
          endResponse(
            new fetchAPI.Response(body(new Uint8Array(bytes)), {
              headers: {
                'content-type': type,
                'content-length': String(bytes.length),
                'cache-control': 'public, max-age=31536000, immutable',
                ...security,
              },
            }),
          ),
        () =>
          endResponse(
            fetchAPI.Response.json(
              { error: { code: 'NOT_FOUND', message: 'No such asset' } },
              { status: 404 },
            ),
          ),
      );
    },
  };
}
