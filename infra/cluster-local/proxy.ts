import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { isReady } from './readiness.ts';

export interface RoundRobinProxy {
  url: string;
  /** Backends whose readiness check passed last time. */
  up(): string[];
  close(): Promise<void>;
}

/**
 * The load balancer in front of the API processes: each request to the next backend that is
 * ready (its `/readyz`, checked every second), so a draining or restarting API gets no new
 * requests; one refused (the API just stopped) goes to the next. It sets X-Forwarded-For to
 * the peer's address, as a load balancer does (the APIs trust it here).
 */
export async function startRoundRobinProxy(options: {
  backends: string[];
  port: number;
  host?: string;
}): Promise<RoundRobinProxy> {
  const healthy = new Set<string>();
  let next = 0;
  const check = async () => {
    await Promise.all(
      options.backends.map(async (url) => {
        if (await isReady({ role: 'api', url }, () => '')) healthy.add(url);
        else healthy.delete(url);
      }),
    );
  };
  await check();
  const timer = setInterval(() => void check(), 1000);
  timer.unref();

  const pick = () => {
    const candidates = options.backends.filter((url) => healthy.has(url));
    const from = candidates.length > 0 ? candidates : options.backends;
    next = (next + 1) % from.length;
    return from[next]!;
  };

  const server: Server = createServer(async (req, res) => {
    // the body is read first (a local proxy: uploads are small), so a request an API never
    // received can go to the next one
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks);
    // the peer's address only: a client-set X-Forwarded-For is not passed on to be believed
    const headers = { ...req.headers, 'x-forwarded-for': req.socket.remoteAddress ?? '' };
    const forward = (attemptsLeft: number) => {
      const target = new URL(req.url ?? '/', pick());
      const upstream = httpRequest(target, { method: req.method, headers }, (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      });
      upstream.on('error', (error: NodeJS.ErrnoException) => {
        healthy.delete(target.origin);
        // refused: it never reached that API (stopped or restarting), so another may take it;
        // reset on a reused keep-alive socket: the API closed that idle socket as it drained,
        // before reading this request (the race Node's docs describe for `reusedSocket`)
        const neverReached =
          error.code === 'ECONNREFUSED' || (upstream.reusedSocket && error.code === 'ECONNRESET');
        if (neverReached && attemptsLeft > 0) return forward(attemptsLeft - 1);
        if (res.headersSent) return res.destroy();
        res.writeHead(502, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ code: 'BAD_GATEWAY', message: `API ${target.origin}: ${error.message}` }));
      });
      upstream.end(body);
    };
    forward(options.backends.length - 1);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host ?? '127.0.0.1', resolve);
  });
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    up: () => [...healthy],
    async close() {
      clearInterval(timer);
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
