import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * The `pixelfind` CLI against a real server process sharing one DATA_DIR (embedded PGlite):
 * keys go through the server's admin GraphQL, never through a second copy of the database.
 */
const ROOT = fileURLToPath(new URL('../../', import.meta.url));

async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  server.close();
  await once(server, 'close');
  return port;
}

interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

function cli(args: string[], env: Record<string, string>): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', 'api/src/cli/main.ts', ...args],
      { cwd: ROOT, env: { ...process.env, ...env }, timeout: 60_000 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

describe('pixelfind CLI with a running server', { timeout: 240_000 }, () => {
  let dataDir: string;
  let url: string;
  let server: ChildProcess;
  let serverOut = '';
  let serverExit: Promise<unknown>;
  let adminKey: string;
  let env: Record<string, string>;

  const graphql = async (query: string, key?: string) => {
    const response = await fetch(`${url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(key ? { authorization: `Bearer ${key}` } : {}) },
      body: JSON.stringify({ query }),
    });
    return { status: response.status, body: (await response.json()) as { errors?: unknown[] } };
  };

  beforeAll(async () => {
    dataDir = await mkdtemp(path.join(tmpdir(), 'pf-cli-'));
    const port = await freePort();
    url = `http://127.0.0.1:${port}`;
    server = spawn(process.execPath, ['--import', 'tsx', 'api/src/main.ts'], {
      cwd: ROOT,
      env: {
        ...process.env,
        DATA_DIR: dataDir,
        PORT: String(port),
        HOST: '127.0.0.1',
        INDEXER_IN_PROCESS: 'false',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    server.stdout!.on('data', (chunk) => {
      serverOut += chunk;
    });
    server.stderr!.on('data', (chunk) => {
      serverOut += chunk;
    });
    serverExit = once(server, 'exit');
    // up when it answers; a server that dies on the way fails the suite with its output
    for (;;) {
      if (server.exitCode !== null) throw new Error(`the server exited:\n${serverOut}`);
      const up = await fetch(`${url}/graphql?query=%7B__typename%7D`).then(
        (r) => r.ok,
        () => false,
      );
      if (up) break;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    adminKey = /pf_admin_[A-Za-z0-9_-]+/.exec(serverOut)?.[0] ?? '';
    expect(adminKey).not.toBe('');
    env = { DATA_DIR: dataDir, PIXELFIND_URL: url, PIXELFIND_API_KEY: adminKey };
  }, 240_000);

  afterAll(async () => {
    if (server.exitCode === null) {
      server.kill('SIGKILL');
      await serverExit;
    }
    await rm(dataDir, { recursive: true, force: true });
  });

  it('creates a key through the server that works at once, printed alone on stdout', async () => {
    const created = await cli(
      ['keys', 'create', '--role', 'user', '--owner', 'ann', '--label', 'from the cli'],
      env,
    );
    expect(created.stderr).toContain('created user key');
    expect(created.code).toBe(0);
    expect(created.stdout).toMatch(/^pf_user_[A-Za-z0-9_-]+\n$/);
    const key = created.stdout.trim();

    expect((await graphql('{ __typename }', key)).status).toBe(200);
    // one character changed (a key that already ends in x would stay itself under a fixed 'x')
    const forged = `${key.slice(0, -1)}${key.endsWith('x') ? 'y' : 'x'}`;
    expect((await graphql('{ __typename }', forged)).status).toBe(401);

    const listed = await cli(['keys', 'list', '--json'], env);
    expect(listed.code).toBe(0);
    const keys = JSON.parse(listed.stdout) as { prefix: string; ownerId: string; label: string }[];
    expect(keys.find((k) => key.startsWith(k.prefix))).toMatchObject({
      ownerId: 'ann',
      label: 'from the cli',
    });
  });

  it('refuses without an admin key, saying which key it needs', async () => {
    const anonymous = await cli(['keys', 'list'], { ...env, PIXELFIND_API_KEY: '' });
    expect(anonymous.code).toBe(1);
    expect(anonymous.stderr).toContain('admin key');
    const { stdout } = await cli(['keys', 'create', '--role', 'user', '--owner', 'cy'], env);
    const asUser = await cli(
      ['keys', 'create', '--role', 'admin', '--owner', 'cy', '--key', stdout.trim()],
      env,
    );
    expect(asUser.code).toBe(1);
    expect(asUser.stderr).toContain('FORBIDDEN');
    expect(asUser.stdout).toBe('');
  });

  it('never opens the database behind a running server: a wrong URL fails naming the holder pid', async () => {
    const wrong = await cli(['keys', 'create', '--role', 'user', '--owner', 'dee'], {
      ...env,
      PIXELFIND_URL: `http://127.0.0.1:${await freePort()}`,
    });
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain(`pid ${server.pid}`);
    expect(wrong.stderr).toContain('PIXELFIND_URL');
    expect(wrong.stdout).toBe('');
  });

  it('revokes through the server: the key stops working at once', async () => {
    const { stdout } = await cli(['keys', 'create', '--role', 'partner', '--owner', 'acme'], env);
    const key = stdout.trim();
    expect((await graphql('{ __typename }', key)).status).not.toBe(401);
    const listed = JSON.parse((await cli(['keys', 'list', '--json'], env)).stdout) as {
      id: string;
      prefix: string;
    }[];
    const id = listed.find((k) => key.startsWith(k.prefix))!.id;
    const revoked = await cli(['keys', 'revoke', id], env);
    expect(revoked).toMatchObject({ code: 0, stdout: `revoked key ${id}\n` });
    expect((await graphql('{ __typename }', key)).status).toBe(401);
    const unknown = await cli(['keys', 'revoke', '999999'], env);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('NOT_FOUND');
  });

  it('searches the running server by text and by image file, as a table or JSON', async () => {
    const asJson = await cli(['search', 'red', '--limit', '5', '--labels', 'red,car', '--json'], env);
    expect(asJson.code).toBe(0);
    const answer = JSON.parse(asJson.stdout) as {
      queryId: string;
      modelVersion: string;
      nothingRelevant: boolean;
      hits: unknown[];
    };
    expect(answer.modelVersion).toBe('tiny-clip-v1');
    expect(answer.hits).toEqual([]);
    expect(answer.nothingRelevant).toBe(true);
    const readable = await cli(['search', 'red'], env);
    expect(readable).toMatchObject({ code: 0, stdout: 'Nothing relevant found.\n' });
    expect(readable.stderr).toContain('model tiny-clip-v1');

    const image = path.join(dataDir, 'query.png');
    await sharp({ create: { width: 16, height: 16, channels: 3, background: '#cc2222' } })
      .png()
      .toFile(image);
    const byImage = await cli(['search', '--image', image, '--json'], env);
    expect(byImage.code).toBe(0);
    expect((JSON.parse(byImage.stdout) as { hits: unknown[] }).hits).toEqual([]);

    const missing = await cli(['search', '--image', path.join(dataDir, 'nope.png')], env);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('ENOENT');
    const badLimit = await cli(['search', 'red', '--limit', '-3'], env);
    expect(badLimit.code).toBe(2);
    const tooMany = await cli(['search', 'red', '--limit', '100000'], env);
    expect(tooMany.code).toBe(1);
    expect(tooMany.stderr).toContain('BAD_USER_INPUT');
  });

  it('after the server stops, falls back to the database and finds the keys the server made', async () => {
    server.kill('SIGTERM');
    await serverExit;
    const listed = await cli(['keys', 'list', '--json'], env);
    expect(listed.stderr).toContain('using the database directly');
    expect(listed.code).toBe(0);
    const owners = (JSON.parse(listed.stdout) as { ownerId: string }[]).map((k) => k.ownerId);
    expect(owners).toEqual(expect.arrayContaining(['ann', 'cy', 'admin']));
    expect(owners).not.toContain('dee');
  });

  it('answers usage errors with status 2', async () => {
    expect((await cli(['keys', 'create', '--role', 'root', '--owner', 'x'], env)).code).toBe(2);
    expect((await cli(['keys', 'frobnicate'], env)).code).toBe(2);
    expect((await cli(['nope'], env)).code).toBe(2);
    expect((await cli(['keys', 'list', '--bogus'], env)).code).toBe(2);
    expect((await cli(['keys', 'list'], { ...env, PIXELFIND_URL: 'not a url' })).code).toBe(2);
  });
});
