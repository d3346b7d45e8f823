import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../api/src/cli/run.ts';
import { ensureTinyModels } from '../fixtures/tiny-clip/generate.ts';
import { type Backend, createEmbeddedBackend } from '../support/backends.ts';
import { createTestApp, type TestApp } from '../support/test-app.ts';
import { type Library, seedLibrary, V1, V2, WALK_ENV, WALK_OVERRIDES } from './lifecycle-walk.ts';

/** `pixelfind reindex ...` against a running server: what an admin types to switch models. */
describe('pixelfind reindex', () => {
  let backend: Backend;
  let t: TestApp;
  let lib: Library;
  let server: Server;
  let env: Record<string, string>;

  const run = async (...argv: string[]) => {
    const out: string[] = [];
    const err: string[] = [];
    const code = await runCli(['reindex', ...argv], {
      env,
      out: (line) => out.push(line),
      err: (line) => err.push(line),
    });
    return { code, out: out.join('\n'), err: err.join('\n') };
  };

  beforeAll(async () => {
    await ensureTinyModels();
    backend = await createEmbeddedBackend();
    t = await createTestApp(backend, WALK_ENV, WALK_OVERRIDES);
    lib = await seedLibrary(t);
    server = createServer(t.app);
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    env = {
      PIXELFIND_URL: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      PIXELFIND_API_KEY: lib.admin.authorization!.slice('Bearer '.length),
    };
  }, 120_000);
  afterAll(async () => {
    server?.close();
    await t?.services.reindex.stop();
    await t?.close();
    await backend?.dispose();
  });

  it('starts and waits for a re-index, slices traffic, promotes and rolls back', async () => {
    t.services.reindex.start();
    const started = await run('start', V2, '--wait');
    expect(started.code).toBe(0);
    expect(started.out).toMatch(new RegExp(`${V2}\\s+READY\\s+12/12`));
    expect((await run('traffic', V2, '0.25')).out).toMatch(/0\.25/);
    const promoted = await run('promote', V2);
    expect(promoted.code).toBe(0);
    expect(promoted.out).toMatch(new RegExp(`${V2}\\s+ACTIVE`));
    const status = await run('status');
    expect(status.out).toMatch(new RegExp(`${V1}\\s+PREVIOUS`));
    expect((await run('rollback')).out).toMatch(new RegExp(`${V1}\\s+ACTIVE`));
  }, 120_000);

  it('says why it refuses: cancel of a version not building, a bad fraction, no model', async () => {
    const cancel = await run('cancel', V2);
    expect(cancel.code).toBe(1);
    expect(cancel.err).toMatch(/not being re-indexed \(BAD_USER_INPUT\)/);
    expect((await run('traffic', V2, 'lots')).code).toBe(2);
    expect((await run('promote')).code).toBe(2);
    const json = JSON.parse((await run('status', '--json')).out) as { modelVersion: string; state: string }[];
    expect(json.map((v) => [v.modelVersion, v.state])).toEqual([
      [V1, 'ACTIVE'],
      [V2, 'READY'],
    ]);
  });
});
