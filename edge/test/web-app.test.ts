// The edge passes the web app and its thumbnails through to the API unchanged: bodies,
// statuses and the caching and security headers the API chose.
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningEdge, startEdge } from './edge-harness.ts';

const CSP = "default-src 'self'; script-src 'self'";
const WEBP = Buffer.from('RIFF....WEBPVP8 fake', 'latin1');

describe('edge: web app pass-through', () => {
  let origin: Server;
  let edge: RunningEdge;
  const seen: { method: string; url: string; headers: IncomingHttpHeaders }[] = [];

  beforeAll(async () => {
    origin = createServer((req, res) => {
      seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers });
      const url = new URL(req.url ?? '/', 'http://origin');
      if (url.pathname === '/') {
        res.writeHead(200, {
          'content-type': 'text/html; charset=utf-8',
          'cache-control': 'no-cache',
          'content-security-policy': CSP,
        });
        res.end('<!doctype html><script type="module" src="/assets/index-AbCd1234.js"></script>');
      } else if (url.pathname === '/assets/index-AbCd1234.js') {
        res.writeHead(200, {
          'content-type': 'text/javascript; charset=utf-8',
          'cache-control': 'public, max-age=31536000, immutable',
        });
        res.end('console.log(1)');
      } else if (url.pathname === '/thumbs/7.webp') {
        const etag = `"t7-${url.searchParams.get('size') ?? '256'}"`;
        const headers = { 'content-type': 'image/webp', 'cache-control': 'public, no-cache', etag };
        if (req.headers['if-none-match'] === etag) {
          res.writeHead(304, headers);
          res.end();
          return;
        }
        res.writeHead(200, headers);
        res.end(WEBP);
      } else {
        res.writeHead(404, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { code: 'NOT_FOUND', message: 'No such thumbnail' } }));
      }
    });
    await new Promise<void>((resolve) => origin.listen(0, '127.0.0.1', resolve));
    edge = await startEdge({ originUrl: `http://127.0.0.1:${(origin.address() as AddressInfo).port}` });
  }, 120_000);

  afterAll(async () => {
    await edge?.dispose();
    await new Promise((resolve) => origin?.close(resolve));
  });

  it('serves / from the API with its no-cache and Content-Security-Policy headers', async () => {
    const response = await edge.fetch('/');
    expect(response.status).toBe(200);
    expect(response.headers.get('cache-control')).toBe('no-cache');
    expect(response.headers.get('content-security-policy')).toBe(CSP);
    expect(await response.text()).toContain('/assets/index-AbCd1234.js');
  });

  it('serves hashed assets with their immutable caching', async () => {
    const response = await edge.fetch('/assets/index-AbCd1234.js');
    expect(response.status).toBe(200);
    expect(response.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    expect(await response.text()).toBe('console.log(1)');
  });

  it('serves thumbnails byte for byte with the query string, and passes revalidation through', async () => {
    const response = await edge.fetch('/thumbs/7.webp?size=512');
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('image/webp');
    expect(Buffer.from(await response.arrayBuffer())).toEqual(WEBP);
    expect(seen.at(-1)?.url).toBe('/thumbs/7.webp?size=512');
    const again = await edge.fetch('/thumbs/7.webp?size=512', { headers: { 'if-none-match': '"t7-512"' } });
    expect(again.status).toBe(304);
  });

  it("passes the API's 404 through, and never forwards API keys or cookies for assets", async () => {
    const response = await edge.fetch('/thumbs/8.webp', {
      headers: { 'x-api-key': 'pf_user_secret', cookie: 'a=b', authorization: 'Bearer x' },
    });
    expect(response.status).toBe(404);
    const last = seen.at(-1)!;
    expect(last.url).toBe('/thumbs/8.webp');
    expect(last.headers['x-api-key']).toBeUndefined();
    expect(last.headers.cookie).toBeUndefined();
    expect(last.headers.authorization).toBeUndefined();
  });

  it('keeps other paths and methods off the origin: POST / is a 405, /other a 404', async () => {
    const before = seen.length;
    expect((await edge.fetch('/', { method: 'POST', body: 'x' })).status).toBe(405);
    expect((await edge.fetch('/other')).status).toBe(404);
    expect((await edge.fetch('/assets/a/b.js')).status).toBe(404);
    expect(seen.length).toBe(before);
  });
});
