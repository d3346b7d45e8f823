import { createServer, type RequestListener, type Server } from 'node:http';
import type { Config } from '../config/config.ts';

export type HttpLimits = Config['http'];

/**
 * The Node HTTP server the API runs on, with bounds on slow clients: headers within
 * `headersTimeoutMs`, the whole request within `requestTimeoutMs`, and a body that, after
 * `bodyGraceMs`, arrives slower than `minBodyBytesPerSecond` on average is cut off (a 1 byte/s
 * upload otherwise holds a socket and a parser for as long as the request timeout allows).
 */
export function createHttpServer(handler: RequestListener, limits: HttpLimits): Server {
  // the timeouts are enforced by a sweep over open connections; its default period is 30 s
  const server = createServer(
    { connectionsCheckingInterval: Math.min(1000, limits.headersTimeoutMs) },
    handler,
  );
  server.headersTimeout = limits.headersTimeoutMs;
  server.requestTimeout = limits.requestTimeoutMs;
  if (limits.minBodyBytesPerSecond > 0) {
    server.on('request', (req) => {
      if (req.complete || req.method === 'GET' || req.method === 'HEAD') return;
      const socket = req.socket;
      const started = Date.now();
      const bytesAtStart = socket.bytesRead;
      const timer = setInterval(() => {
        if (req.complete || socket.destroyed) {
          clearInterval(timer);
          return;
        }
        const elapsed = Date.now() - started;
        if (elapsed < limits.bodyGraceMs) return;
        const rate = ((socket.bytesRead - bytesAtStart) * 1000) / elapsed;
        if (rate < limits.minBodyBytesPerSecond) {
          clearInterval(timer);
          socket.destroy();
        }
      }, 250);
      timer.unref();
      req.once('end', () => clearInterval(timer));
      req.once('close', () => clearInterval(timer));
    });
  }
  return server;
}
