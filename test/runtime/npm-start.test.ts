import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { request } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureTinyClip } from '../fixtures/tiny-clip/generate.ts';

const run = promisify(execFile);

const freePort = () =>
  new Promise<number>((resolve) => {
    const probe = createServer();
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });

const portOpen = (port: number) =>
  new Promise<boolean>((resolve) => {
    const socket = createServer().listen(port, '127.0.0.1');
    socket.once('listening', () => socket.close(() => resolve(false)));
    socket.once('error', () => resolve(true));
  });

const status = (port: number, pathname: string) =>
  fetch(`http://127.0.0.1:${port}${pathname}`).then(
    (response) => response.status,
    () => null,
  );

/**
 * What a process manager does: `npm start`, then SIGTERM to the npm pid. The server (compiled,
 * under `exec node`) gets the signal itself, answers /readyz 503, finishes the request in
 * flight, closes its port and exits; nothing keeps serving.
 */
describe('npm start and SIGTERM', () => {
  let dataDir = '';
  let child: ChildProcess | null = null;

  beforeAll(async () => {
    await ensureTinyClip();
    dataDir = await mkdtemp(path.join(tmpdir(), 'pixelfind-start-'));
    // npm start runs dist/: build the tree under test
    await run('npm', ['run', '--silent', 'build'], { cwd: process.cwd() });
  }, 600_000);

  afterAll(async () => {
    if (child && child.exitCode === null) child.kill('SIGKILL');
    await rm(dataDir, { recursive: true, force: true });
  });

  it('builds the pixelfind bin: package.json bin points at a compiled CLI that runs', async () => {
    const { bin } = JSON.parse(await readFile('package.json', 'utf8')) as { bin: { pixelfind: string } };
    expect(bin.pixelfind).toBe('dist/api/src/cli/main.js');
    const { stdout } = await run('node', [bin.pixelfind, 'help'], { cwd: process.cwd() });
    expect(stdout).toContain('pixelfind <command> [options]');
    expect(stdout).toContain('keys create|list|revoke');
  });

  it('drains and exits: /readyz 503, the request in flight completes, the port closes', async () => {
    const port = await freePort();
    child = spawn('npm', ['start', '--silent'], {
      env: {
        ...process.env,
        DATA_DIR: dataDir,
        PORT: String(port),
        PIXELFIND_MODEL: 'tiny-clip-v1',
        LOG_LEVEL: 'info',
        SHUTDOWN_UNREADY_MS: '3000',
        SHUTDOWN_GRACE_MS: '20000',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.stderr!.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    const deadline = Date.now() + 120_000;
    while ((await status(port, '/readyz')) !== 200) {
      if (Date.now() > deadline || child.exitCode !== null)
        throw new Error(`server did not come up: ${output}`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }

    // a request whose body is still arriving when the signal comes
    const body = JSON.stringify({ query: '{ __typename }' });
    const inFlight = new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = request(
        {
          host: '127.0.0.1',
          port,
          path: '/graphql',
          method: 'POST',
          headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
        },
        (res) => {
          let text = '';
          res.on('data', (chunk: Buffer) => {
            text += chunk.toString();
          });
          res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
        },
      );
      req.on('error', reject);
      req.write(body.slice(0, 5));
      req.once('socket', (socket) => {
        socket.once('connect', () => {
          setTimeout(() => {
            child!.kill('SIGTERM');
            // once readiness says so, the rest of the body arrives
            void (async () => {
              while ((await status(port, '/readyz')) === 200) await new Promise((r) => setTimeout(r, 50));
              req.end(body.slice(5));
            })();
          }, 100);
        });
      });
    });

    // readiness turns 503 while the listener still accepts
    let sawDraining = false;
    for (let i = 0; i < 200 && !sawDraining; i++) {
      const code = await status(port, '/readyz');
      if (code === 503) sawDraining = true;
      else if (code === null) break;
      else await new Promise((resolve) => setTimeout(resolve, 25));
    }
    expect(sawDraining).toBe(true);

    const answer = await inFlight;
    expect(answer.status).toBe(200);
    expect(JSON.parse(answer.text)).toEqual({ data: { __typename: 'Query' } });

    const [code] = await once(child, 'exit');
    expect(code).toBe(0);
    expect(await portOpen(port)).toBe(false);
    expect(output).toMatch(/"msg":"stopping"/);
    expect(output).toMatch(/"msg":"stopped"/);
  }, 300_000);
});
