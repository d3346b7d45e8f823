import { mkdirSync, readFileSync } from 'node:fs';
import { mkdir, open, readFile, rmdir, unlink } from 'node:fs/promises';
import { hostname } from 'node:os';
import path from 'node:path';

/**
 * PGlite is one process's database: a second process opening the same DATA_DIR would see a
 * copy that the first never learns about (and may corrupt it). The first process to open a
 * DATA_DIR writes `pixelfind.lock` there, created atomically (O_EXCL); every other process
 * refuses while the holder lives. A lock whose holder died (SIGKILL, crash) is taken over.
 */
export const LOCK_FILE = 'pixelfind.lock';

export interface LockHolder {
  pid: number;
  hostname: string;
  /** What holds it, for the message a refused process prints (e.g. "server", "keys"). */
  purpose: string;
  startedAt: string;
  /** Linux: the process start time (boot id + clock ticks), so that a reused pid is not taken for the holder. */
  processStart?: string | null;
}

export interface DataDirLock {
  readonly path: string;
  readonly holder: LockHolder;
  /** Removes the lock file if it is still ours; safe to call twice. */
  release(): Promise<void>;
}

export class DataDirLockedError extends Error {
  readonly code = 'DATA_DIR_LOCKED';
  constructor(
    readonly dataDir: string,
    readonly holder: LockHolder,
  ) {
    super(
      `DATA_DIR ${dataDir} is in use by pid ${holder.pid} on ${holder.hostname} (${holder.purpose}, since ${holder.startedAt}). ` +
        'Its embedded database has one owner: stop that process first, or let it do the work ' +
        '(the pixelfind CLI talks to a running server at PIXELFIND_URL), or set DATABASE_URL to use Postgres. ' +
        `If no such process runs, delete ${path.join(dataDir, LOCK_FILE)}.`,
    );
    this.name = 'DataDirLockedError';
  }
}

const isErrno = (error: unknown, code: string) =>
  error instanceof Error && (error as NodeJS.ErrnoException).code === code;

/** What `promise` gives, or `fallback` when it fails with errno `code`; any other failure rethrows. */
async function onErrno<T, F>(promise: Promise<T>, code: string, fallback: F): Promise<T | F> {
  try {
    return await promise;
  } catch (error) {
    if (isErrno(error, code)) return fallback;
    throw error;
  }
}

/** Locks this process holds: a lock naming our own pid that is not in here is a previous run's (containers reuse pid 1). */
const heldHere = new Set<string>();

/** `<boot id>:<start ticks>` of a process, or null where /proc does not tell. */
function processStart(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // fields after the command name in parentheses; starttime is field 22 of the line
    const ticks = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
    const boot = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    return ticks ? `${boot}:${ticks}` : null;
  } catch {
    return null;
  }
}

/** Whether a process with this pid runs here (EPERM: it runs, as another user). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return !isErrno(error, 'ESRCH');
  }
}

async function readHolder(file: string): Promise<LockHolder | null> {
  const text = await onErrno(readFile(file, 'utf8'), 'ENOENT', null);
  if (text === null) return null;
  try {
    const parsed = JSON.parse(text) as Partial<LockHolder>;
    if (typeof parsed.pid === 'number' && Number.isInteger(parsed.pid) && parsed.pid > 0)
      return {
        pid: parsed.pid,
        hostname: String(parsed.hostname ?? 'unknown'),
        purpose: String(parsed.purpose ?? 'unknown'),
        startedAt: String(parsed.startedAt ?? 'unknown'),
        processStart: typeof parsed.processStart === 'string' ? parsed.processStart : null,
      };
  } catch {}
  // half-written (the holder died between create and write) or not ours: treat as dead
  return { pid: 0, hostname: hostname(), purpose: 'unreadable lock', startedAt: 'unknown' };
}

/**
 * Whether the holder is gone for sure: on this host, a dead pid, or a pid now used by a process
 * that started at another time. Another host's pid cannot be checked.
 */
function stale(holder: LockHolder, file: string): boolean {
  if (holder.hostname !== hostname()) return false;
  if (holder.pid === 0) return true;
  if (holder.pid === process.pid) return !heldHere.has(file);
  if (!alive(holder.pid)) return true;
  const now = processStart(holder.pid);
  return Boolean(holder.processStart && now && holder.processStart !== now);
}

/** The live holder of a DATA_DIR's lock, or null when no process holds it. */
export async function dataDirHolder(dataDir: string): Promise<LockHolder | null> {
  const file = path.join(dataDir, LOCK_FILE);
  const holder = await readHolder(file);
  return holder && !stale(holder, file) ? holder : null;
}

async function tryCreate(file: string, holder: LockHolder): Promise<boolean> {
  const handle = await onErrno(open(file, 'wx'), 'EEXIST', null);
  if (handle === null) return false;
  try {
    await handle.writeFile(`${JSON.stringify(holder)}\n`);
    await handle.sync();
  } finally {
    await handle.close();
  }
  return true;
}

/**
 * Takes DATA_DIR for this process, or throws DataDirLockedError naming the holder. A stale lock
 * is removed under a short-lived takeover directory, so that two processes finding the same
 * stale lock do not remove each other's fresh one.
 */
export async function acquireDataDirLock(dataDir: string, purpose: string): Promise<DataDirLock> {
  mkdirSync(dataDir, { recursive: true });
  const file = path.join(dataDir, LOCK_FILE);
  const holder: LockHolder = {
    processStart: processStart(process.pid),
    pid: process.pid,
    hostname: hostname(),
    purpose,
    startedAt: new Date().toISOString(),
  };
  for (let attempt = 0; attempt < 5; attempt++) {
    if (await tryCreate(file, holder)) return ownLock(file, holder);
    const current = await readHolder(file);
    if (current === null) continue; // released between our create and read: try again
    if (!stale(current, file)) throw new DataDirLockedError(dataDir, current);
    const guard = `${file}.takeover`;
    if (
      !(await onErrno(
        mkdir(guard).then(() => true),
        'EEXIST',
        false,
      ))
    ) {
      // another process is taking it over right now: let it finish, then look again
      await new Promise((resolve) => setTimeout(resolve, 50));
      continue;
    }
    try {
      const again = await readHolder(file);
      if (again && stale(again, file) && again.pid === current.pid) await unlink(file).catch(() => {});
    } finally {
      await rmdir(guard).catch(() => {});
    }
  }
  const current = await readHolder(file);
  if (current) throw new DataDirLockedError(dataDir, current);
  throw new Error(`Could not take the lock ${file}; try again`);
}

function ownLock(file: string, holder: LockHolder): DataDirLock {
  heldHere.add(file);
  let released = false;
  return {
    path: file,
    holder,
    async release() {
      if (released) return;
      released = true;
      heldHere.delete(file);
      const current = await readHolder(file);
      if (current?.pid === holder.pid && current.startedAt === holder.startedAt) {
        await onErrno(unlink(file), 'ENOENT', undefined);
      }
    },
  };
}
