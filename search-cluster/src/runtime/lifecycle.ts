import type { Server } from 'node:http';
import type { Logger } from './logger.ts';

export interface ShutdownOptions {
  log: Logger;
  /** How long `stop` may take before the process exits anyway (status 1). */
  graceMs: number;
  /** Drains and closes everything; the process exits 0 when it resolves. */
  stop: (signal: NodeJS.Signals) => Promise<void>;
  /** Default process.exit. */
  exit?: (code: number) => void;
}

/**
 * SIGTERM/SIGINT run `stop` once, bounded by `graceMs`, then exit 0. A second signal exits at
 * once (status 1): the operator asked twice.
 */
export function onShutdownSignals(options: ShutdownOptions): void {
  const exit = options.exit ?? ((code: number) => process.exit(code));
  let stopping = false;
  const handle = (signal: NodeJS.Signals) => {
    if (stopping) {
      options.log.warn('second signal: exiting without waiting', { signal });
      exit(1);
      return;
    }
    stopping = true;
    options.log.info('stopping', { signal, graceMs: options.graceMs });
    const timer = setTimeout(() => {
      options.log.error('shutdown grace period over: exiting with work unfinished', {
        graceMs: options.graceMs,
      });
      exit(1);
    }, options.graceMs);
    timer.unref();
    options.stop(signal).then(
      () => {
        clearTimeout(timer);
        options.log.info('stopped');
        exit(0);
      },
      (error: unknown) => {
        clearTimeout(timer);
        options.log.error('shutdown failed', {
          error: error instanceof Error ? error.message : String(error),
        });
        exit(1);
      },
    );
  };
  process.on('SIGTERM', handle);
  process.on('SIGINT', handle);
}

/**
 * Stops accepting connections and resolves when the requests in flight have finished; idle
 * keep-alive connections are closed as they become idle, and after `graceMs` all are closed.
 */
export function drainHttpServer(server: Server, graceMs: number): Promise<void> {
  return new Promise((resolve) => {
    if (!server.listening) {
      resolve();
      return;
    }
    server.close(() => {
      clearInterval(sweep);
      clearTimeout(cutoff);
      resolve();
    });
    server.closeIdleConnections();
    const sweep = setInterval(() => server.closeIdleConnections(), 50);
    const cutoff = setTimeout(() => server.closeAllConnections(), graceMs);
    sweep.unref();
    cutoff.unref();
  });
}
