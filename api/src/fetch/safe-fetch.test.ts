import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appErrorOf } from '../../../test/support/app-error.ts';
import { fetchImageUrl, parseAllowHosts } from './safe-fetch.ts';

const IMAGE = Buffer.from('not really a png, the caller sniffs it');
const FIFTY_MB = 50 * 1024 * 1024;

interface TestServer {
  origin: string;
  port: number;
  close(): Promise<void>;
  /** Bytes the /big routes managed to hand to the socket before the client hung up. */
  bigBytesWritten: number;
  hostHeaders: string[];
}

async function startServer(host: string): Promise<TestServer> {
  const state = { bigBytesWritten: 0, hostHeaders: [] as string[] };
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    state.hostHeaders.push(req.headers.host ?? '');
    switch (url.pathname) {
      case '/image':
        res.writeHead(200, { 'content-type': 'image/png', 'content-length': IMAGE.length });
        res.end(IMAGE);
        return;
      case '/redirect':
        res.writeHead(Number(url.searchParams.get('status') ?? 302), {
          location: url.searchParams.get('to')!,
        });
        res.end();
        return;
      case '/loop':
        res.writeHead(302, { location: '/loop' });
        res.end();
        return;
      case '/big':
      case '/big-declared': {
        // 50 MB, chunk by chunk with back-pressure, so the counter shows how much the client took.
        const headers: http.OutgoingHttpHeaders = { 'content-type': 'image/jpeg' };
        if (url.pathname === '/big-declared') headers['content-length'] = FIFTY_MB;
        res.writeHead(200, headers);
        const chunk = Buffer.alloc(64 * 1024, 1);
        const pump = () => {
          while (state.bigBytesWritten < FIFTY_MB && !res.destroyed) {
            state.bigBytesWritten += chunk.length;
            if (!res.write(chunk)) return void res.once('drain', pump);
          }
          res.end();
        };
        pump();
        return;
      }
      case '/hang':
        return; // never answers
      case '/stall-body':
        res.writeHead(200, { 'content-type': 'image/png' });
        res.write('partial');
        return; // never finishes the body
      case '/missing':
        res.writeHead(404);
        res.end('nope');
        return;
      default:
        res.writeHead(500);
        res.end();
    }
  });
  server.listen(0, host);
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://${host}:${port}`,
    port,
    get bigBytesWritten() {
      return state.bigBytesWritten;
    },
    set bigBytesWritten(value: number) {
      state.bigBytesWritten = value;
    },
    hostHeaders: state.hostHeaders,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

const rejection = (promise: Promise<unknown>) => appErrorOf(promise, 'the fetch to fail');

let local: TestServer; // 127.0.0.1
let other: TestServer; // 127.0.0.2, a second "host" for redirect tests

beforeAll(async () => {
  [local, other] = await Promise.all([startServer('127.0.0.1'), startServer('127.0.0.2')]);
});
afterAll(async () => {
  await Promise.all([local?.close(), other?.close()]);
});

describe('fetchImageUrl', () => {
  it('returns the body of an allow-listed host', async () => {
    const bytes = await fetchImageUrl(`${local.origin}/image`, { allowHosts: ['127.0.0.1'] });
    expect(bytes.equals(IMAGE)).toBe(true);
  });

  it('follows redirects between allowed hosts', async () => {
    const to = encodeURIComponent(`${local.origin}/image`);
    const bytes = await fetchImageUrl(`${other.origin}/redirect?to=${to}&status=301`, {
      allowHosts: ['127.0.0.1', '127.0.0.2'],
    });
    expect(bytes.equals(IMAGE)).toBe(true);
  });

  it('follows a relative redirect on the same host', async () => {
    const bytes = await fetchImageUrl(`${local.origin}/redirect?to=/image`, { allowHosts: ['127.0.0.1'] });
    expect(bytes.equals(IMAGE)).toBe(true);
  });

  it.each([
    ['127.0.0.1', () => `${local.origin}/image`],
    ['169.254.169.254', () => 'http://169.254.169.254/latest/meta-data/'],
    ['localhost', () => `http://localhost:${local.port}/image`],
    ['[::ffff:127.0.0.1]', () => `http://[::ffff:127.0.0.1]:${local.port}/image`],
  ])('refuses a redirect from an allowed host to %s', async (_name, target) => {
    const before = local.hostHeaders.length;
    const error = await rejection(
      fetchImageUrl(`${other.origin}/redirect?to=${encodeURIComponent(target())}`, {
        allowHosts: ['127.0.0.2'],
      }),
    );
    expect(error.code).toBe('BAD_USER_INPUT');
    expect(error.message).toMatch(/resolves to a (loopback|link-local) address/);
    expect(local.hostHeaders.length).toBe(before); // the target never saw a request
  });

  it('gives up after maxRedirects', async () => {
    const error = await rejection(
      fetchImageUrl(`${local.origin}/loop`, { allowHosts: ['127.0.0.1'], maxRedirects: 2 }),
    );
    expect(error.code).toBe('BAD_USER_INPUT');
    expect(error.message).toMatch(/redirected more than 2 times/);
  });

  it.each(['/big', '/big-declared'])('stops reading a 50 MB body (%s) at maxBytes', async (path) => {
    local.bigBytesWritten = 0;
    const started = Date.now();
    const error = await rejection(
      fetchImageUrl(`${local.origin}${path}`, { allowHosts: ['127.0.0.1'], maxBytes: 1024 * 1024 }),
    );
    expect(error.code).toBe('PAYLOAD_TOO_LARGE');
    expect(Date.now() - started).toBeLessThan(2000);
    // give the server a moment to notice the hang-up, then check it stopped well short of 50 MB
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(local.bigBytesWritten).toBeLessThan(FIFTY_MB / 4);
  });

  it('times out on a server that never answers', async () => {
    const started = Date.now();
    const error = await rejection(
      fetchImageUrl(`${local.origin}/hang`, { allowHosts: ['127.0.0.1'], timeoutMs: 300 }),
    );
    expect(error.code).toBe('TIMEOUT');
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('times out on a body that never ends', async () => {
    const error = await rejection(
      fetchImageUrl(`${local.origin}/stall-body`, { allowHosts: ['127.0.0.1'], timeoutMs: 300 }),
    );
    expect(error.code).toBe('TIMEOUT');
  });

  it('times out on a DNS lookup that never returns', async () => {
    const error = await rejection(
      fetchImageUrl('http://slow.example/x.png', { timeoutMs: 200, resolve: () => new Promise(() => {}) }),
    );
    expect(error.code).toBe('TIMEOUT');
  });

  it('reports a non-2xx answer with its status', async () => {
    const error = await rejection(fetchImageUrl(`${local.origin}/missing`, { allowHosts: ['127.0.0.1'] }));
    expect(error.code).toBe('BAD_USER_INPUT');
    expect(error.extensions.status).toBe(404);
  });

  it.each([
    'file:///etc/passwd',
    'ftp://example.com/a.png',
    'gopher://127.0.0.1:6379/_INFO',
    'data:image/png;base64,AAAA',
    'javascript:alert(1)',
    'not a url',
  ])('refuses %s', async (url) => {
    const error = await rejection(fetchImageUrl(url, { allowHosts: ['127.0.0.1'] }));
    expect(error.code).toBe('BAD_USER_INPUT');
  });

  it('refuses credentials in the URL', async () => {
    const error = await rejection(fetchImageUrl(`http://user:pw@127.0.0.1:${local.port}/image`));
    expect(error.code).toBe('BAD_USER_INPUT');
  });

  it.each([
    ['localhost', () => `http://localhost:${local.port}/image`],
    ['127.0.0.1', () => `${local.origin}/image`],
    ['decimal 127.0.0.1', () => `http://2130706433:${local.port}/image`],
    ['hex 127.0.0.1', () => `http://0x7f.1:${local.port}/image`],
    ['::1', () => `http://[::1]:${local.port}/image`],
    ['0.0.0.0', () => `http://0.0.0.0:${local.port}/image`],
    ['169.254.169.254', () => 'http://169.254.169.254/latest/meta-data/'],
    ['10.0.0.1', () => 'http://10.0.0.1/a.png'],
  ])('refuses %s when not allow-listed', async (_name, url) => {
    const before = local.hostHeaders.length;
    const error = await rejection(fetchImageUrl(url()));
    expect(error.code).toBe('BAD_USER_INPUT');
    expect(error.extensions.reason).toBe('ADDRESS_NOT_ALLOWED');
    expect(local.hostHeaders.length).toBe(before);
  });

  it('admits localhost once it is allow-listed by name', async () => {
    const bytes = await fetchImageUrl(`http://localhost:${local.port}/image`, { allowHosts: ['LOCALHOST'] });
    expect(bytes.equals(IMAGE)).toBe(true);
  });

  it('refuses a name when any of its addresses is private', async () => {
    const resolve = async () => [
      { address: '93.184.216.34', family: 4 },
      { address: '127.0.0.1', family: 4 },
    ];
    const error = await rejection(fetchImageUrl('http://mixed.example/a.png', { resolve }));
    expect(error.extensions.reason).toBe('ADDRESS_NOT_ALLOWED');
  });

  it('connects to the address it checked, without resolving the name again', async () => {
    // `pinned.test` exists only in this resolver: if the HTTP client looked the name up itself
    // (a second, possibly rebound, DNS answer), the request would fail.
    let lookups = 0;
    const resolve = async () => {
      lookups++;
      return [{ address: '127.0.0.1', family: 4 }];
    };
    const bytes = await fetchImageUrl(`http://pinned.test:${local.port}/image`, {
      resolve,
      allowHosts: ['pinned.test'],
    });
    expect(bytes.equals(IMAGE)).toBe(true);
    expect(lookups).toBe(1);
    expect(local.hostHeaders.at(-1)).toBe(`pinned.test:${local.port}`);
  });

  it('reports a name that does not resolve', async () => {
    const resolve = () => Promise.reject(Object.assign(new Error('ENOTFOUND'), { code: 'ENOTFOUND' }));
    const error = await rejection(fetchImageUrl('http://nowhere.invalid/a.png', { resolve }));
    expect(error.code).toBe('BAD_USER_INPUT');
    expect(error.message).toMatch(/could not be resolved/);
  });
});

describe('parseAllowHosts', () => {
  it('splits and normalises IMAGE_FETCH_ALLOW_HOSTS', () => {
    expect(parseAllowHosts(' Images.Internal., 10.0.0.5  [::1]')).toEqual([
      'images.internal',
      '10.0.0.5',
      '::1',
    ]);
    expect(parseAllowHosts(undefined)).toEqual([]);
    expect(parseAllowHosts('')).toEqual([]);
  });
});
