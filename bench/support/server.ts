import type { AddressInfo } from 'node:net';
import { createApp } from '../../api/src/app.ts';
import { type Config, loadConfig } from '../../api/src/config/config.ts';
import type { Services } from '../../api/src/context.ts';
import { createHttpServer } from '../../api/src/http/http-server.ts';
import type { SearchOutcome } from '../../api/src/search/search.service.ts';

/**
 * A single-node configuration for a bench: the process environment, on 127.0.0.1, data in
 * `dataDir`, Postgres at `databaseUrl` (PGlite when null); `env` sets anything else.
 */
export function benchConfig(
  dataDir: string,
  databaseUrl: string | null,
  env: Record<string, string> = {},
): Config {
  return loadConfig({
    ...process.env,
    // an access log line per request would load the machine being measured
    LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn',
    PIXELFIND_MODE: 'single',
    HOST: '127.0.0.1',
    PORT: '0',
    DATA_DIR: dataDir,
    DATABASE_URL: databaseUrl ?? '',
    ...env,
  });
}

/** The real HTTP server (as main.ts runs it) on 127.0.0.1 and a port the OS picks. */
export async function startServer(services: Services): Promise<{ url: string; close(): Promise<void> }> {
  const server = createHttpServer(createApp(services), services.config.http);
  // keep-alive connections from the bench client must not outlive the run
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/graphql`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export interface GraphQLResponse<T> {
  data?: T | null;
  errors?: { message: string; extensions?: { code?: string } }[];
}

/** POSTs one GraphQL operation as JSON (Node's fetch keeps connections alive). */
export async function postGraphQL<T>(
  url: string,
  query: string,
  variables: Record<string, unknown>,
): Promise<GraphQLResponse<T>> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json' },
    body: JSON.stringify({ query, variables }),
  });
  return (await response.json()) as GraphQLResponse<T>;
}

/** POSTs a GraphQL multipart request (the upload spec) with one file at `variables.<fileVariable>`. */
export async function postMultipart<T>(
  url: string,
  query: string,
  variables: Record<string, unknown>,
  file: { bytes: Buffer; type: string; name: string; variable: string },
): Promise<GraphQLResponse<T>> {
  const form = new FormData();
  form.set('operations', JSON.stringify({ query, variables: { ...variables, [file.variable]: null } }));
  form.set('map', JSON.stringify({ 0: [`variables.${file.variable}`] }));
  form.set('0', new Blob([new Uint8Array(file.bytes)], { type: file.type }), file.name);
  const response = await fetch(url, {
    method: 'POST',
    headers: { accept: 'application/graphql-response+json', 'x-graphql-yoga-csrf': '1' },
    body: form,
  });
  return (await response.json()) as GraphQLResponse<T>;
}

/**
 * Records SearchOutcome.stages of every search the server runs. The server runs in the bench
 * process, so wrapping the service method exposes the stages without adding them to the schema.
 */
export function recordStages(services: Services): {
  stages: SearchOutcome['stages'][];
  tookMs: number[];
  partial: number;
  reset(): void;
} {
  const recorder = {
    stages: [] as SearchOutcome['stages'][],
    tookMs: [] as number[],
    partial: 0,
    reset() {
      recorder.stages = [];
      recorder.tookMs = [];
      recorder.partial = 0;
    },
  };
  const original = services.search.search;
  services.search.search = async (...args) => {
    const outcome = await original(...args);
    recorder.stages.push(outcome.stages);
    recorder.tookMs.push(outcome.tookMs);
    if (outcome.partial) recorder.partial++;
    return outcome;
  };
  return recorder;
}

/** Runs `task` `total` times with at most `concurrency` in flight; returns when all finished. */
export async function runClosedLoop(
  total: number,
  concurrency: number,
  task: (i: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  const lanes = Array.from({ length: Math.min(concurrency, total) }, async () => {
    while (next < total) await task(next++);
  });
  await Promise.all(lanes);
}
