import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * A bad setting stops each process kind at once: status 2, one line per bad variable on
 * stderr, no stack trace, and nothing heavy before it (no model load, no admin key).
 */
describe('configuration errors at the entry points', () => {
  let dataDir = '';
  beforeAll(async () => {
    dataDir = await mkdtemp(path.join(tmpdir(), 'pixelfind-config-'));
  });
  afterAll(() => rm(dataDir, { recursive: true, force: true }));

  const run = (entry: string, env: Record<string, string>) =>
    new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      const { PATH, HOME } = process.env;
      const child = spawn(process.execPath, ['--import', 'tsx', entry], {
        env: { PATH, HOME, DATA_DIR: dataDir, PIXELFIND_MODEL: 'tiny-clip-v1', ...env },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (chunk: Buffer) => {
        stdout += chunk.toString();
      });
      child.stderr.on('data', (chunk: Buffer) => {
        stderr += chunk.toString();
      });
      child.on('exit', (code) => resolve({ code, stdout, stderr }));
    });

  it('the API exits 2 naming PORT, DATABASE_URL, SHARDS and LOG_LEVEL, before the model loads or a key prints', async () => {
    const { code, stdout, stderr } = await run('api/src/main.ts', {
      PORT: '99999',
      DATABASE_URL: 'notaurl',
      SHARDS: 'garbage',
      LOG_LEVEL: 'loud',
    });
    expect(code).toBe(2);
    const lines = stderr.trim().split('\n');
    expect(lines.map((line) => line.split(' ')[1])).toEqual(['LOG_LEVEL', 'DATABASE_URL', 'SHARDS', 'PORT']);
    expect(lines.every((line) => line.startsWith('config: '))).toBe(true);
    expect(stderr).not.toMatch(/\n\s+at /);
    expect(stdout).not.toMatch(/admin API key|model loaded|listening/);
  });

  it('the API in cluster mode without its stores exits 2 naming each', async () => {
    const { code, stderr, stdout } = await run('api/src/main.ts', { PIXELFIND_MODE: 'cluster' });
    expect(code).toBe(2);
    expect(
      stderr
        .trim()
        .split('\n')
        .map((line) => line.split(' ')[1]),
    ).toEqual(['DATABASE_URL', 'REDIS_URL', 'SHARDS']);
    expect(stdout).toBe('');
  });

  it('the worker exits 2 on a bad value', async () => {
    const { code, stderr } = await run('api/src/worker-main.ts', { INDEXER_BATCH_SIZE: 'many' });
    expect(code).toBe(2);
    expect(stderr.trim()).toBe('config: INDEXER_BATCH_SIZE is "many"; expected an integer from 1 to 1024');
  });

  it('the shard server exits 2 on a bad value', async () => {
    const { code, stderr } = await run('search-cluster/src/server/main.ts', {
      SHARD_ID: '3',
      SHARD_COUNT: '2',
      MODEL_VERSIONS: 'no-dimension',
    });
    expect(code).toBe(2);
    expect(stderr.trim().split('\n')).toEqual([
      'config: MODEL_VERSIONS is "no-dimension"; expected name:dimension entries separated by commas (e.g. clip-vit-b32:512)',
    ]);
  });
});
