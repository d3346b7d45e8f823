import { loadConfig } from './config/config.ts';
import { closeServices, createServices } from './services.ts';

/**
 * `npm run worker`: the indexing worker as its own process (cluster mode). SIGTERM/SIGINT
 * finish the batch in hand and release what is left; SIGKILL loses nothing either, since
 * leases expire and another worker takes the jobs.
 */
const log = (msg: string, fields: Record<string, unknown> = {}) =>
  console.log(JSON.stringify({ level: 'info', time: new Date().toISOString(), msg, ...fields }));

const config = loadConfig({ ...process.env, INDEXER_IN_PROCESS: 'false' });
const services = await createServices(config);
const worker = await services.createWorker();
worker.start();
log('indexing worker started', { owner: worker.owner, model: services.encoder.modelVersion });

let stopping = false;
const stop = async (signal: string) => {
  if (stopping) return;
  stopping = true;
  log('indexing worker stopping', { signal });
  await worker.stop();
  log('indexing worker stopped', worker.counts());
  await closeServices(services);
  process.exit(0);
};
process.on('SIGINT', () => void stop('SIGINT'));
process.on('SIGTERM', () => void stop('SIGTERM'));
