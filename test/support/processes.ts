import { type ChildProcess, type StdioOptions, spawn } from 'node:child_process';
import type { AddressInfo } from 'node:net';
import { createServer } from 'node:net';
import type { Backend } from './backends.ts';
import { TEST_DATABASE_URL } from './backends.ts';

/** A loopback port nothing listens on right now. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** The URL of a Postgres backend's own database, for the DATABASE_URL of a spawned process. */
export async function databaseUrlOf(backend: Pick<Backend, 'db'>): Promise<string> {
  const { rows } = await backend.db.query<{ d: string }>('SELECT current_database() AS d');
  const url = new URL(TEST_DATABASE_URL);
  url.pathname = `/${rows[0]!.d}`;
  return url.toString();
}

/**
 * Runs a TypeScript entry point (`api/src/worker-main.ts`, `search-cluster/src/server/main.ts`)
 * as its own Node process through tsx, after any `preload` modules; stderr is piped.
 */
export function spawnTsx(
  entry: string,
  env: NodeJS.ProcessEnv,
  options: { preload?: string[]; stdout?: 'ignore' | 'pipe' } = {},
): ChildProcess {
  const preload = (options.preload ?? []).flatMap((module) => ['--import', module]);
  const stdio: StdioOptions = ['ignore', options.stdout ?? 'ignore', 'pipe'];
  return spawn(process.execPath, ['--import', 'tsx', ...preload, entry], { env, stdio });
}

/** Starts a shard server process with `env` and waits (up to a minute) until its /readyz says ok. */
export async function startShardServer(env: NodeJS.ProcessEnv, port: number): Promise<ChildProcess> {
  const child = spawnTsx('search-cluster/src/server/main.ts', env);
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    const ready = await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => null);
    if (ready?.ok && ((await ready.json()) as { status: string }).status === 'ok') return child;
    await new Promise((r) => setTimeout(r, 200));
  }
  child.kill('SIGKILL');
  throw new Error(`shard server on port ${port} did not become healthy (env SHARD_ID=${env.SHARD_ID})`);
}
