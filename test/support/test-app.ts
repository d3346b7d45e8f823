import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createApp } from '../../api/src/app.ts';
import { LocalBlobStore } from '../../api/src/blobs/local-blob-store.ts';
import { loadConfig } from '../../api/src/config/config.ts';
import type { Services } from '../../api/src/context.ts';
import { createServices, type ServiceOverrides } from '../../api/src/services.ts';
import type { Backend } from './backends.ts';
import { postGraphQL } from './post-graphql.ts';
import { uploadForm } from './upload-form.ts';

export interface TestApp {
  app: ReturnType<typeof createApp>;
  services: Services;
  blobDir: string;
  dataDir: string;
  /** POST a GraphQL operation as JSON. */
  gql<T = Record<string, unknown>>(
    query: string,
    variables?: Record<string, unknown>,
    headers?: Record<string, string>,
  ): Promise<{
    status: number;
    body: { data?: T; errors?: { message: string; extensions?: { code?: string } }[] };
  }>;
  /** POST a GraphQL multipart request with one file at variables.input.file. */
  upload(
    file: Buffer,
    input?: { tagsHint?: readonly string[] | null },
    options?: { filename?: string; type?: string; headers?: Record<string, string> },
  ): ReturnType<TestApp['gql']>;
  close(): Promise<void>;
}

/**
 * Settings that keep the background from running statements on its own clock for a minute or
 * more: the serving version is re-read every second by default, image_stats folds every 5 s and
 * the crons fire on wall-clock minutes. For tests that count the statements of a request or a batch.
 */
export const NO_BACKGROUND_JOBS: Readonly<Record<string, string>> = {
  LIFECYCLE_POLL_MS: '60000',
  STATS_EVERY_MS: '3600000',
  REBUILD_SCHEDULE: 'off',
  REBUILD_CHECK_SCHEDULE: 'off',
  RECALL_CANARY_SCHEDULE: 'off',
  DRIFT_SCHEDULE: 'off',
};

export async function createTestApp(
  backend: Backend,
  env: Record<string, string> = {},
  overrides: Omit<ServiceOverrides, 'db' | 'cache' | 'blobs'> = {},
): Promise<TestApp> {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'pixelfind-test-'));
  const blobDir = path.join(dataDir, 'blobs');
  // tests drive the worker themselves (runBatch), so its timing is theirs
  const config = loadConfig({
    DATA_DIR: dataDir,
    PORT: '4000',
    INDEXER_IN_PROCESS: 'false',
    PIXELFIND_MODEL: 'tiny-clip-v1',
    LOG_LEVEL: 'warn',
    ...env,
  });
  const services = await createServices(config, {
    db: backend.db,
    cache: backend.cache,
    blobs: new LocalBlobStore(blobDir),
    ...overrides,
  });
  const app = createApp(services);

  const gql: TestApp['gql'] = (query, variables, headers) =>
    postGraphQL(
      (url, init) => app.fetch(url, init),
      'http://pixelfind.test/graphql',
      query,
      variables,
      headers,
    );

  return {
    app,
    services,
    blobDir,
    dataDir,
    gql,
    async upload(file, input = {}, options = {}) {
      const form = uploadForm(file, input, options);
      const response = await app.fetch('http://pixelfind.test/graphql', {
        method: 'POST',
        // multipart needs a CSRF header (docs/security.md); our clients always send it
        headers: {
          accept: 'application/graphql-response+json',
          'x-graphql-yoga-csrf': '1',
          ...options.headers,
        },
        body: form,
      });
      return { status: response.status, body: await response.json() };
    },
    async close() {
      // the backend owns db and cache; the services close the rest
      await services.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
