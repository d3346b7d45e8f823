/**
 * `npm run worker`: the indexing worker as its own process (cluster mode). SIGTERM/SIGINT
 * finish the batch in hand and release what is left; SIGKILL loses nothing either, since
 * leases expire and another worker takes the jobs. It builds the core and worker graphs only,
 * and listens on WORKER_PORT for `/healthz`, `/readyz` and `/metrics`.
 */
import { loadOrExit } from '../../search-cluster/src/index.ts';
import { loadWorkerConfig } from './config/config.ts';

const config = loadOrExit(() => loadWorkerConfig(process.env));
const { componentLogger, createLogger, drainHttpServer, onShutdownSignals } = await import(
  '../../search-cluster/src/index.ts'
);
const { buildCore } = await import('./graph/core.ts');
const { buildWorkerGraph } = await import('./graph/worker.ts');
const { createWorkerHttpServer } = await import('./http/worker-http.ts');
const { dependencyChecks } = await import('./http/readiness.ts');
const { registerIndexQueueGauge } = await import('./metrics/indexing-metrics.ts');
const { createWorkerMetrics } = await import('./metrics/worker-metrics.ts');

const logger = createLogger({ level: config.logLevel });
const log = componentLogger(logger, 'worker');
try {
  const metrics = createWorkerMetrics();
  const core = await buildCore(config, { logger });
  registerIndexQueueGauge(metrics.registry, core.db);
  const workers = buildWorkerGraph(core, { metrics: metrics.indexing });
  const worker = await workers.createWorker();
  let draining = false;
  const server = createWorkerHttpServer({
    metrics,
    access: { token: config.metricsToken, open: config.mode === 'single' },
    checks: dependencyChecks({ db: core.db, blobs: core.blobs, cluster: core.cluster }),
    isDraining: () => draining,
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  worker.start();
  const reindex = workers.createReindexRunner();
  reindex.start();
  log.info('indexing worker started', {
    owner: worker.owner,
    model: core.encoder.modelVersion,
    port,
    host: config.host,
  });
  onShutdownSignals({
    log,
    graceMs: config.shutdownGraceMs,
    stop: async () => {
      draining = true;
      await worker.stop();
      await reindex.stop();
      log.info('indexing worker stopped', worker.counts());
      await drainHttpServer(server, 1000);
      await workers.close();
      await core.close();
    },
  });
} catch (error) {
  log.error('start failed', {
    error: error instanceof Error ? (error.stack ?? error.message) : String(error),
  });
  process.exit(1);
}
