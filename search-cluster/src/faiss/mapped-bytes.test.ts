import { spawnSync } from 'node:child_process';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { mappedSink, memorySink } from './mapped-bytes.ts';

const dirs: string[] = [];
afterEach(async () => {
  await Promise.all(dirs.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
});

async function scratch(): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'mapped-bytes-'));
  dirs.push(dir);
  return dir;
}

describe('byte sinks', () => {
  it('map what was written, in any order, and leave no file behind', async () => {
    const dir = await scratch();
    const sink = await mappedSink(dir, 'codes', 10);
    expect(sink.mapped).toBe(true);
    expect(await readdir(dir)).toHaveLength(1);
    await sink.write(Uint8Array.of(7, 8, 9), 6);
    await sink.write(Uint8Array.of(1, 2), 0);
    const bytes = await sink.finish();
    expect([...bytes]).toEqual([1, 2, 0, 0, 0, 0, 7, 8, 9, 0]);
    // mapped, then unlinked: the mapping outlives the name
    expect(await readdir(dir)).toEqual([]);
    await expect(sink.write(Uint8Array.of(1), 0)).rejects.toThrow(/already finished/);
  });

  it('map an empty file, remove an aborted one, and fail clearly on a missing directory', async () => {
    const dir = await scratch();
    expect((await (await mappedSink(dir, 'empty', 0)).finish()).length).toBe(0);
    const aborted = await mappedSink(dir, 'codes', 4);
    await aborted.write(Uint8Array.of(1), 0);
    await aborted.abort();
    expect(await readdir(dir)).toEqual([]);
    await expect(mappedSink(path.join(dir, 'missing'), 'codes', 4)).rejects.toThrow(/ENOENT/);
  });

  it("remove files a dead process left, and no one else's", async () => {
    const dir = await scratch();
    const dead = spawnSync(process.execPath, ['-e', '0']).pid!;
    const files = {
      orphan: `codes.${dead}-0a1b.tmp`,
      live: `codes.${process.pid}-ffff.tmp`,
      other: `vectors.${dead}-0a1b.tmp`,
      snapshot: 'vectors.pxvec',
    };
    for (const name of Object.values(files)) await writeFile(path.join(dir, name), 'x');
    const sink = await mappedSink(dir, 'codes', 4);
    const left = await readdir(dir);
    expect(left).not.toContain(files.orphan);
    for (const kept of [files.live, files.other, files.snapshot]) expect(left).toContain(kept);
    await sink.abort();
  });

  it('keep bytes on the heap for a tier in memory', async () => {
    const sink = memorySink(4);
    await sink.write(Uint8Array.of(5, 6), 2);
    expect(sink.mapped).toBe(false);
    expect([...(await sink.finish())]).toEqual([0, 0, 5, 6]);
  });
});
