/**
 * `npm run worker`: the indexing worker as its own process (cluster mode). SIGTERM/SIGINT
 * finish the batch in hand and release what is left; SIGKILL loses nothing either, since
 * leases expire and another worker takes the jobs. It builds the core and worker graphs only.
 */
import { loadOrExit } from '../../search-cluster/src/index.ts';
import { loadWorkerConfig } from './config/config.ts';

const config = loadOrExit(() => loadWorkerConfig(process.env));
const { componentLogger, createLogger, onShutdownSignals } = await import(
  '../../search-cluster/src/index.ts'
);
const { buildCore } = await import('./graph/core.ts');
const { buildWorkerGraph } = await import('./graph/worker.ts');

const logger = createLogger({ level: config.logLevel });
const log = componentLogger(logger, 'worker');
try {
  const core = await buildCore(config, { logger });
  const workers = buildWorkerGraph(core);
  const worker = await workers.createWorker();
  worker.start();
  const reindex = workers.createReindexRunner();
  reindex.start();
  log.info('indexing worker started', { owner: worker.owner, model: core.encoder.modelVersion });
  onShutdownSignals({
    log,
    graceMs: config.shutdownGraceMs,
    stop: async () => {
      await worker.stop();
      await reindex.stop();
      log.info('indexing worker stopped', worker.counts());
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
