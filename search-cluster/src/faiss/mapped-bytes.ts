import { randomBytes } from 'node:crypto';
import { type FileHandle, open, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { loadNative } from './load-native.ts';

/**
 * Where a build puts bytes derived from a tier's rows (the filter codes): `memory` (a heap
 * buffer), or `mapped` (written to a file in a directory on disk, memory-mapped read-only and the
 * file unlinked at once, so the page cache holds them like the memory-mapped rows they came from
 * and a crash leaves no file behind).
 */
export interface ByteSink {
  readonly mapped: boolean;
  /** Writes `bytes` at `offset`; writes may come in any order and must not overlap. */
  write(bytes: Uint8Array, offset: number): Promise<void>;
  /** The bytes written (every offset below the length, written or zero). */
  finish(): Promise<Uint8Array>;
  /** Drops what was written (a failed build). */
  abort(): Promise<void>;
}

/** A sink of `length` bytes on the heap. */
export function memorySink(length: number): ByteSink {
  const bytes = new Uint8Array(length);
  return {
    mapped: false,
    async write(chunk, offset) {
      bytes.set(chunk, offset);
    },
    async finish() {
      return bytes;
    },
    async abort() {},
  };
}

/**
 * A sink of `length` bytes in a new file in `dir` (named `name` plus this process's id and a random
 * suffix, so processes sharing the directory never collide), mapped by finish(). Files of `name`
 * left by processes that no longer run (killed between creating and mapping one) are removed first:
 * at scale one is gigabytes.
 */
export async function mappedSink(dir: string, name: string, length: number): Promise<ByteSink> {
  await removeOrphans(dir, name);
  const path = join(dir, `${name}.${process.pid}-${randomBytes(4).toString('hex')}.tmp`);
  let file: FileHandle | null = await open(path, 'wx');
  try {
    await file.truncate(length);
  } catch (error) {
    await file.close();
    await rm(path, { force: true });
    throw error;
  }
  const close = async () => {
    const open = file;
    file = null;
    await open?.close();
  };
  return {
    mapped: true,
    async write(chunk, offset) {
      if (!file) throw new Error(`${path} is already finished`);
      for (let done = 0; done < chunk.length; ) {
        const { bytesWritten } = await file.write(chunk, done, chunk.length - done, offset + done);
        done += bytesWritten;
      }
    },
    async finish() {
      await close();
      try {
        return new Uint8Array(loadNative().mapBytes(path));
      } finally {
        await rm(path, { force: true });
      }
    },
    async abort() {
      await close();
      await rm(path, { force: true });
    },
  };
}

/** Removes `name.<pid>-<hex>.tmp` files in `dir` whose process is gone. */
async function removeOrphans(dir: string, name: string): Promise<void> {
  const pattern = new RegExp(`^${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\.(\\d+)-[0-9a-f]+\\.tmp$`);
  for (const entry of await readdir(dir)) {
    const pid = Number(pattern.exec(entry)?.[1]);
    if (Number.isInteger(pid) && pid > 0 && !isRunning(pid)) await rm(join(dir, entry), { force: true });
  }
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it runs, as another user
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
