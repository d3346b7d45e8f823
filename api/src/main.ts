import { createApp } from './app.ts';
import { loadConfig } from './config/config.ts';
import { createHttpServer } from './http/http-server.ts';
import { closeServices, createServices } from './services.ts';

const log = (msg: string, fields: Record<string, unknown> = {}) =>
  console.log(JSON.stringify({ level: 'info', time: new Date().toISOString(), msg, ...fields }));

async function main() {
  const config = loadConfig();
  const services = await createServices(config);
  const app = createApp(services);

  if (config.mode === 'single') {
    const adminKey = await services.apiKeys.ensureAdminKey();
    if (adminKey) {
      console.log(`\nFirst start: an admin API key was created. It is shown only now:\n\n  ${adminKey}\n`);
    }
  }

  services.worker?.start();
  if (services.encoder.info.fallbackWarning) console.warn(`\n${services.encoder.info.fallbackWarning}\n`);

  const server = createHttpServer(app, config.http);
  server.listen(config.port, config.host, () => {
    log('listening', {
      mode: config.mode,
      database: services.db.engine,
      cache: services.cache.kind,
      anonymousUploads: config.allowAnonymousUploads,
      modelVersion: services.encoder.modelVersion,
      shards: services.cluster.shardCount,
      inProcessWorker: services.worker !== null,
    });
    console.log(
      `\nPixelfind is up. GraphiQL: http://${config.host === '0.0.0.0' ? '127.0.0.1' : config.host}:${config.port}/graphql\n`,
    );
  });

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log('stopping', { signal });
    server.close();
    await closeServices(services);
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
}

main().catch((error) => {
  console.error(error instanceof Error ? (error.stack ?? error.message) : error);
  process.exit(1);
});
