import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { IndexingWorker } from '../../api/src/indexing/indexing.worker.ts';
import { ensureTinyClip } from '../fixtures/tiny-clip/generate.ts';
import { type Backend, createEmbeddedBackend } from './backends.ts';
import { createTestApp, type TestApp } from './test-app.ts';

/** A test app served over real HTTP on a loopback port, with its indexing worker running. */
export interface ServedTestApp {
  backend: Backend;
  t: TestApp;
  worker: IndexingWorker;
  /** `http://127.0.0.1:<port>`, no trailing slash. */
  url: string;
  /** Stops the worker and the server, closes the app and disposes of the backend. */
  close(): Promise<void>;
}

/**
 * The tiny CLIP model on a fresh embedded backend, as a client outside the process sees it:
 * `seed` runs first (uploads, keys), the worker drains what it queued, then keeps running.
 */
export async function serveTestApp(
  seed: (t: TestApp) => Promise<void> = async () => {},
): Promise<ServedTestApp> {
  await ensureTinyClip();
  const backend = await createEmbeddedBackend();
  const t = await createTestApp(
    backend,
    {},
    { worker: { batchSize: 8, leaseSeconds: 10, backoffBaseSeconds: 0 } },
  );
  await seed(t);
  const worker = await t.services.createWorker();
  for (let i = 0; i < 20; i++) if ((await worker.runBatch()).length === 0) break;
  worker.start();
  const server = createServer(t.app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    backend,
    t,
    worker,
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    async close() {
      await worker.stop();
      await new Promise((resolve) => server.close(resolve));
      await t.close();
      await backend.dispose();
    },
  };
}
