import { describe } from 'vitest';
import { createPostgresBackend, postgresAvailable, redisAvailable } from '../support/backends.ts';
import { startTestShards } from '../support/processes.ts';
import { itWalksTheLifecycle } from './lifecycle-walk.ts';

/**
 * The lifecycle walk in cluster mode: two shard server processes learn tiny-clip-v2 over HTTP
 * when its re-index starts, and free tiny-clip-v1 when it is retired.
 */
describe.runIf(postgresAvailable && redisAvailable)(
  'model lifecycle (cluster mode, shard server processes)',
  () => {
    itWalksTheLifecycle(
      async () => {
        const backend = await createPostgresBackend();
        try {
          const shards = await startTestShards(backend);
          return { backend, env: shards.coreEnv(), close: () => shards.stop() };
        } catch (error) {
          await backend.dispose();
          throw error;
        }
      },
      { setup: 180_000, walk: 240_000 },
    );
  },
);
