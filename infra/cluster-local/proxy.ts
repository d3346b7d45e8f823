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
 * requests. It sets X-Forwarded-For to the peer's address, as a load balancer does (the APIs trust it here).
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

  const server: Server = createServer((req, res) => {
    const target = new URL(req.url ?? '/', pick());
    // the peer's address only: a client-set X-Forwarded-For is not passed on to be believed
    const forwarded = req.socket.remoteAddress ?? '';
    const upstream = httpRequest(
      target,
      { method: req.method, headers: { ...req.headers, 'x-forwarded-for': forwarded } },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    upstream.on('error', (error) => {
      healthy.delete(target.origin);
      if (res.headersSent) {
        res.destroy();
        return;
      }
      res.writeHead(502, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ code: 'BAD_GATEWAY', message: `API ${target.origin}: ${error.message}` }));
    });
    req.pipe(upstream);
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
