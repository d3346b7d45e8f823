import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { createHttpServer } from '../../api/src/http/http-server.ts';
import type { IndexingWorker } from '../../api/src/indexing/indexing.worker.ts';
import { makeColourImage } from '../fixtures/images/make-images.ts';
import { freePort } from '../support/processes.ts';
import type { TestApp } from '../support/test-app.ts';

export { freePort };

/** The app behind the real Node HTTP server (as main.ts runs it) on a free loopback port. */
export async function startHttp(t: TestApp): Promise<{ url: string; port: number; close(): Promise<void> }> {
  const server = createHttpServer(t.app, t.services.config.http);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** The longest event-loop block (ms) while `run` runs, from perf_hooks' histogram. */
export async function longestBlockDuring<T>(run: () => Promise<T>): Promise<{ result: T; maxMs: number }> {
  const histogram = monitorEventLoopDelay({ resolution: 5 });
  histogram.enable();
  try {
    const result = await run();
    return { result, maxMs: histogram.max / 1e6 };
  } finally {
    histogram.disable();
  }
}

/** Uploads a few solid colours and indexes them; returns their ids by colour. */
export async function seedColours(
  t: TestApp,
  colours: readonly string[] = ['red', 'green', 'blue'],
): Promise<{ ids: Map<string, string>; worker: IndexingWorker }> {
  const worker = await t.services.createWorker();
  const ids = new Map<string, string>();
  for (const colour of colours) {
    const { body } = await t.upload(await makeColourImage({ colour: colour as 'red' }), {});
    if (body.errors) throw new Error(JSON.stringify(body.errors));
    ids.set(colour, (body.data as { uploadImage: { image: { id: string } } }).uploadImage.image.id);
  }
  for (let i = 0; i < 20; i++) if ((await worker.runBatch()).length === 0) break;
  return { ids, worker };
}

async function waitForPort(port: number, timeoutMs = 15_000) {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const open = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (open) return;
    if (Date.now() > until) throw new Error(`nothing listens on ${port} after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** A redis-server of this test's own on a free port, without persistence; stop and start it at will. */
export async function privateRedis() {
  const port = await freePort();
  // no automatic snapshots; a test that wants one sends SAVE, and a restart loads it
  const dir = await mkdtemp(path.join(tmpdir(), 'pf-private-redis-'));
  let child: ChildProcess | null = null;
  const start = async () => {
    const args = [
      '--port',
      String(port),
      '--save',
      '',
      '--appendonly',
      'no',
      '--bind',
      '127.0.0.1',
      '--dir',
      dir,
    ];
    child = spawn('redis-server', args, { stdio: 'ignore' });
    await waitForPort(port);
  };
  const stop = async () => {
    const running = child;
    child = null;
    if (!running || running.exitCode !== null) return;
    const exited = new Promise((resolve) => running.once('exit', resolve));
    running.kill('SIGKILL');
    await exited;
  };
  await start();
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    start,
    stop,
    async dispose() {
      await stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

const PG_BIN = '/usr/lib/postgresql/15/bin';

/**
 * A Postgres cluster of this test's own (initdb into a temp dir owned by `postgres`, trust
 * auth, a free port); stop and start it at will. Run as root here, so each command runs as
 * the postgres user.
 */
export async function privatePostgres() {
  const port = await freePort();
  const dir = await mkdtemp(path.join(tmpdir(), 'pf-private-pg-'));
  const asPostgres = (args: string[]) =>
    process.getuid?.() === 0
      ? execFileSync('runuser', ['-u', 'postgres', '--', ...args], { stdio: 'pipe' })
      : execFileSync(args[0]!, args.slice(1), { stdio: 'pipe' });
  execFileSync('chown', ['postgres', dir]);
  const data = path.join(dir, 'data');
  asPostgres([`${PG_BIN}/initdb`, '-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8']);
  const start = async () => {
    asPostgres([
      `${PG_BIN}/pg_ctl`,
      '-D',
      data,
      '-o',
      `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1`,
      '-l',
      path.join(dir, 'log'),
      '-w',
      'start',
    ]);
    await waitForPort(port);
  };
  const stop = async () => {
    asPostgres([`${PG_BIN}/pg_ctl`, '-D', data, '-m', 'immediate', '-w', 'stop']);
  };
  await start();
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    start,
    stop,
    async dispose() {
      await stop().catch(() => {});
      await rm(dir, { recursive: true, force: true });
    },
  };
}
