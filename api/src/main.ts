import { setTimeout as sleep } from 'node:timers/promises';
import { drainHttpServer, loadOrExit, onShutdownSignals } from '../../search-cluster/src/index.ts';
import { loadConfig } from './config/config.ts';
import { createHttpServer } from './http/http-server.ts';

// configuration first: a bad value exits 2 before the model loads or a key is printed
const config = loadOrExit(() => loadConfig(process.env));
const { createApp } = await import('./app.ts');
const { createServices } = await import('./services.ts');
const { componentLogger, createLogger } = await import('../../search-cluster/src/index.ts');

const logger = createLogger({ level: config.logLevel });
const log = componentLogger(logger, 'api');
try {
  const services = await createServices(config, { logger });
  let draining = false;
  const app = createApp(services, { isDraining: () => draining });

  if (config.mode === 'single') {
    const adminKey = await services.apiKeys.ensureAdminKey();
    if (adminKey) {
      // shown once, on the terminal, not in the log stream
      process.stdout.write(
        `\nFirst start: an admin API key was created. It is shown only now:\n\n  ${adminKey}\n\n`,
      );
    }
  }

  services.worker?.start();
  // the shadow re-index runs where the indexing worker runs
  if (services.worker) services.reindex.start();
  // the encoder's logger already warned when the tiny model stands in for the real one

  const server = createHttpServer(app, config.http);
  server.listen(config.port, config.host, () => {
    const address = server.address();
    const port = typeof address === 'object' && address ? address.port : config.port;
    log.info('listening', {
      port,
      mode: config.mode,
      database: services.db.engine,
      cache: services.cache.kind,
      anonymousUploads: config.allowAnonymousUploads,
      modelVersion: services.serving.activeModelVersion(),
      configuredModel: services.encoder.modelVersion,
      shards: services.cluster.shardCount,
      inProcessWorker: services.worker !== null,
      graphiql: `http://${config.host === '0.0.0.0' ? '127.0.0.1' : config.host}:${port}/graphql`,
    });
  });

  onShutdownSignals({
    log,
    graceMs: config.shutdownGraceMs,
    // readiness first (load balancers stop sending), then the listener, in-flight requests,
    // the worker's leases, the query log; closeServices does the last two
    stop: async () => {
      draining = true;
      if (config.shutdownUnreadyMs > 0) await sleep(config.shutdownUnreadyMs);
      await drainHttpServer(server, config.shutdownGraceMs);
      await services.close();
    },
  });
} catch (error) {
  log.error('start failed', {
    error: error instanceof Error ? (error.stack ?? error.message) : String(error),
  });
  process.exit(1);
}
