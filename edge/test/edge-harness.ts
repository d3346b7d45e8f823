// Runs the Worker, bundled exactly as `wrangler deploy` bundles it, in real workerd through
// Miniflare, in front of any origin URL: the fake origin of the edge tests, or a real API
// process in the cross-component tests.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Miniflare } from 'miniflare';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
let bundled: Promise<string> | undefined;

/**
 * Bundles the Worker once per test process (`wrangler deploy --dry-run`, offline) and returns
 * the bundle as one module: without its source map, whose ../ paths would trip workerd's
 * module loader.
 */
export function buildEdgeBundle(): Promise<string> {
  bundled ??= (async () => {
    const outdir = mkdtempSync(path.join(tmpdir(), 'pixelfind-edge-'));
    try {
      await promisify(execFile)(
        process.execPath,
        [
          path.join(repoRoot, 'node_modules/wrangler/bin/wrangler.js'),
          'deploy',
          '--dry-run',
          '--env',
          'local',
          '--outdir',
          outdir,
        ],
        { cwd: repoRoot, env: { ...process.env, WRANGLER_SEND_METRICS: 'false', CI: '1' } },
      );
      return readFileSync(path.join(outdir, 'index.js'), 'utf8').replace(/\n\/\/# sourceMappingURL=.*$/m, '');
    } finally {
      rmSync(outdir, { recursive: true, force: true });
    }
  })();
  return bundled;
}

const compatibilityDate = () =>
  /^compatibility_date\s*=\s*"([^"]+)"/m.exec(
    readFileSync(path.join(repoRoot, 'wrangler.toml'), 'utf8'),
  )?.[1] ?? '2025-09-01';

export interface EdgeOptions {
  /** Base URL of the API the Worker calls (`${originUrl}/graphql`). */
  originUrl: string;
  /** EDGE_SIGNING_KEY; the API must hold the same. Default: unset (embedding cache off). */
  signingKey?: string;
  /** Other Workers vars (RESULT_TTL_SECONDS, MODEL_VERSION_TTL_SECONDS, ...). */
  vars?: Record<string, string>;
}

export interface RunningEdge {
  /** Sends a request to the Worker; `path` is relative to http://edge.test. */
  fetch(path: string, init?: RequestInit): Promise<Response>;
  /** The Worker's URL on 127.0.0.1, for clients outside this process. */
  url: URL;
  miniflare: Miniflare;
  dispose(): Promise<void>;
}

export async function startEdge({ originUrl, signingKey, vars = {} }: EdgeOptions): Promise<RunningEdge> {
  const script = await buildEdgeBundle();
  const miniflare = new Miniflare({
    modules: true,
    script,
    compatibilityDate: compatibilityDate(),
    kvNamespaces: ['EMBEDDINGS'],
    bindings: {
      ORIGIN_URL: originUrl,
      RESULT_TTL_SECONDS: '60',
      MODEL_VERSION_TTL_SECONDS: '30',
      EMBEDDING_TTL_SECONDS: '3600',
      ORIGIN_TIMEOUT_MS: '5000',
      ...(signingKey ? { EDGE_SIGNING_KEY: signingKey } : {}),
      ...vars,
    },
    host: '127.0.0.1',
    port: 0,
  });
  const url = await miniflare.ready;
  return {
    fetch: async (p, init = {}) => {
      let sent = init;
      if (init.body instanceof FormData) {
        // Miniflare's fetch has its own FormData class; hand it the encoded bytes instead
        const encoded = new Request('http://encode.test', { method: 'POST', body: init.body });
        const headers = new Headers(init.headers);
        headers.set('content-type', encoded.headers.get('content-type') ?? '');
        sent = { ...init, headers, body: await encoded.arrayBuffer() };
      }
      const url = new URL(p, 'http://edge.test').href;
      return (await miniflare.dispatchFetch(url, sent as never)) as unknown as Response;
    },
    url,
    miniflare,
    dispose: () => miniflare.dispose(),
  };
}
