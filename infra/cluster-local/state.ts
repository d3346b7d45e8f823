import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { writeFileAtomic } from '../../search-cluster/src/runtime/atomic-write.ts';

/**
 * `<dir>/state.json`: what a run made and what runs, so that `--down`, or the next start after a
 * crash, can find the database, the Redis prefix and any process left behind. It outlives a
 * stop (data stays until `--down`); `supervisorPid` and `processes` are live only while running.
 */
export interface ClusterState {
  version: 1;
  dir: string;
  /** The supervisor (`npm run cluster:local`) while it runs; null once stopped. */
  supervisorPid: number | null;
  ready: boolean;
  database: { adminUrl: string; name: string; url: string };
  redis: { url: string; prefix: string };
  /** Keys created at the first start (shown then); kept for the next starts and the tests. */
  keys: { admin: string; user: string } | null;
  urls: Record<string, string>;
  /** This run's shared secrets (fresh at each start). */
  secrets: { metricsToken: string; shardAuthToken: string; edgeSigningKey: string } | null;
  /** Each process and its process group id. */
  processes: { name: string; role: string; pid: number | null; url: string | null; restarts: number }[];
}

export const stateFile = (dir: string) => path.join(dir, 'state.json');

export async function readState(dir: string): Promise<ClusterState | null> {
  try {
    return JSON.parse(await readFile(stateFile(dir), 'utf8')) as ClusterState;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
}

export async function writeState(state: ClusterState): Promise<void> {
  await writeFileAtomic(stateFile(state.dir), `${JSON.stringify(state, null, 2)}\n`);
}

/** Whether a process with this pid exists. */
export function alive(pid: number | null | undefined): boolean {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
