import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createDatabase } from './create-database.ts';
import { acquireDataDirLock, DataDirLockedError, dataDirHolder, LOCK_FILE } from './data-dir-lock.ts';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const HOLDER = path.join(ROOT, 'test/support/hold-data-dir.ts');

interface Held {
  child: ChildProcess;
  stderr: () => string;
  exited: Promise<number | null>;
}

/** Starts a real second process opening dataDir; resolves once it holds it or has exited. */
async function openInAnotherProcess(dataDir: string): Promise<Held & { ready: boolean }> {
  // node itself (not the tsx wrapper, which forks): the pid in the lock is the child's own
  const child = spawn(process.execPath, ['--import', 'tsx', HOLDER, dataDir], {
    cwd: ROOT,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout!.on('data', (chunk) => {
    out += chunk;
  });
  child.stderr!.on('data', (chunk) => {
    err += chunk;
  });
  const exited = once(child, 'exit').then(([code]) => code as number | null);
  const ready = await Promise.race([
    new Promise<boolean>((resolve) => child.stdout!.on('data', () => out.includes('ready') && resolve(true))),
    exited.then(() => false),
  ]);
  return { child, ready, stderr: () => err, exited };
}

// each test starts real node processes that open PGlite: slow on a loaded machine
describe('DATA_DIR has one owner', { timeout: 240_000 }, () => {
  let dataDir: string;
  const children: ChildProcess[] = [];
  beforeEach(async () => {
    dataDir = await mkdtemp(path.join(tmpdir(), 'pf-lock-'));
  });
  afterEach(async () => {
    for (const child of children.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
    await rm(dataDir, { recursive: true, force: true });
  });

  it('a second process opening a held DATA_DIR refuses, naming the holder pid and what to do', async () => {
    const first = await openInAnotherProcess(dataDir);
    children.push(first.child);
    expect(first.ready).toBe(true);

    const second = await openInAnotherProcess(dataDir);
    children.push(second.child);
    expect(second.ready).toBe(false);
    expect(await second.exited).toBe(1);
    expect(second.stderr()).toContain(`in use by pid ${first.child.pid}`);
    expect(second.stderr()).toContain('test holder');
    expect(second.stderr()).toContain('PIXELFIND_URL');

    // this process too
    const refused = await createDatabase({ databaseUrl: null, dataDir }).catch((error) => error);
    expect(refused).toBeInstanceOf(DataDirLockedError);
    expect((refused as DataDirLockedError).holder.pid).toBe(first.child.pid);
    expect((await dataDirHolder(dataDir))?.pid).toBe(first.child.pid);
  });

  it('a clean close releases the lock and the next process opens the same data', async () => {
    const first = await openInAnotherProcess(dataDir);
    children.push(first.child);
    expect(first.ready).toBe(true);
    first.child.stdin!.end();
    expect(await first.exited).toBe(0);
    expect(existsSync(path.join(dataDir, LOCK_FILE))).toBe(false);
    expect(await dataDirHolder(dataDir)).toBeNull();

    const db = await createDatabase({ databaseUrl: null, dataDir });
    try {
      await db.query('CREATE TABLE t (n int)');
    } finally {
      await db.close();
    }
    const again = await createDatabase({ databaseUrl: null, dataDir });
    try {
      expect((await again.query('SELECT count(*)::int AS n FROM t')).rows).toEqual([{ n: 0 }]);
    } finally {
      await again.close();
    }
  });

  it('a holder killed with SIGKILL leaves a stale lock that the next process takes over', async () => {
    const first = await openInAnotherProcess(dataDir);
    children.push(first.child);
    expect(first.ready).toBe(true);
    first.child.kill('SIGKILL');
    await first.exited;
    expect(existsSync(path.join(dataDir, LOCK_FILE))).toBe(true);
    expect(await dataDirHolder(dataDir)).toBeNull();

    const lock = await acquireDataDirLock(dataDir, 'after the crash');
    expect(lock.holder.pid).toBe(process.pid);
    await lock.release();
  });

  it('refuses a second open in the same process, but takes over its own pid from a previous run', async () => {
    const lock = await acquireDataDirLock(dataDir, 'first');
    await expect(acquireDataDirLock(dataDir, 'second')).rejects.toBeInstanceOf(DataDirLockedError);
    await lock.release();

    // a container restarts with the same pid: the file names us, but this run never took it
    await writeFile(
      path.join(dataDir, LOCK_FILE),
      JSON.stringify({ pid: process.pid, hostname: hostname(), purpose: 'old run', startedAt: 'earlier' }),
    );
    const taken = await acquireDataDirLock(dataDir, 'new run');
    expect(taken.holder.purpose).toBe('new run');
    await taken.release();
  });

  it('two processes racing for a free DATA_DIR: exactly one wins', async () => {
    const [a, b] = await Promise.all([openInAnotherProcess(dataDir), openInAnotherProcess(dataDir)]);
    children.push(a.child, b.child);
    expect([a.ready, b.ready].filter(Boolean)).toHaveLength(1);
    const loser = a.ready ? b : a;
    const winner = a.ready ? a : b;
    expect(await loser.exited).toBe(1);
    expect(loser.stderr()).toContain(`in use by pid ${winner.child.pid}`);
  });
});
