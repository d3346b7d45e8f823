// `npm run cluster:local` as a user runs it: the whole topology (edge in wrangler dev, the
// round-robin proxy, 2 APIs, 2 workers, 2 shards x 2 replicas, Postgres, Redis, s3rver) as
// processes, searched end to end; a shard replica killed under load; SIGTERM and --down.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { isReady } from '../../infra/cluster-local/readiness.ts';
import { type ClusterState, readState } from '../../infra/cluster-local/state.ts';
import { databaseExists, redisKeys } from '../../infra/cluster-local/stores.ts';
import { groupAlive } from '../../infra/cluster-local/supervisor.ts';
import type { Role } from '../../infra/cluster-local/topology.ts';
import { type ColourName, makeColourImage } from '../fixtures/images/make-images.ts';
import { ensureTinyClip } from '../fixtures/tiny-clip/generate.ts';
import { postgresAvailable, redisAvailable, TEST_DATABASE_URL, TEST_REDIS_URL } from '../support/backends.ts';
import { uploadForm } from '../support/upload-form.ts';

const VIA_EDGE: ColourName[] = ['red', 'green', 'blue'];
const VIA_API: ColourName[] = ['yellow', 'cyan', 'black'];

interface SearchHit {
  score: number;
  image: { id: string; storageUrl: string };
}
interface GraphQLBody<T> {
  data?: T | null;
  errors?: { message: string; extensions?: { code?: string } }[];
}

/** `node infra/cluster-local/main.ts <args>`, output kept for the failure message. */
function clusterLocal(args: string[]) {
  const child = spawn(process.execPath, ['--import', 'tsx', 'infra/cluster-local/main.ts', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString('utf8')).slice(-20_000);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  return { child, output: () => output };
}

describe.runIf(postgresAvailable && redisAvailable)('npm run cluster:local, end to end', () => {
  const name = `pf_cluster_local_${randomBytes(4).toString('hex')}`;
  let dir = '';
  let cluster: ReturnType<typeof clusterLocal>;
  let state: ClusterState;
  const ids = new Map<ColourName, string>();
  const args = () => [
    '--tsx',
    '--dir',
    dir,
    '--name',
    name,
    '--postgres',
    TEST_DATABASE_URL,
    '--redis',
    TEST_REDIS_URL,
  ];

  const userKey = () => state.keys!.user;
  const api = async <T>(query: string, variables: Record<string, unknown> = {}, url = state.urls.api!) => {
    const response = await fetch(`${url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': userKey() },
      body: JSON.stringify({ query, variables }),
    });
    const body = (await response.json()) as GraphQLBody<T>;
    if (!body.data && !body.errors) throw new Error(`HTTP ${response.status}: ${JSON.stringify(body)}`);
    return body;
  };
  const searchApi = async (text: string, limit = 5) => {
    const body = await api<{ search: { queryId: string; partial: boolean; hits: SearchHit[] } }>(
      'query($t: String!, $l: Int) { search(input: { text: $t, limit: $l }) { queryId partial hits { score image { id storageUrl } } } }',
      { t: text, l: limit },
    );
    if (body.errors) throw new Error(JSON.stringify(body.errors));
    return body.data!.search;
  };
  const processOf = (processName: string) => state.processes.find((p) => p.name === processName)!;

  beforeAll(async () => {
    await ensureTinyClip();
    dir = await mkdtemp(path.join(tmpdir(), 'pixelfind-cluster-local-'));
    cluster = clusterLocal(args());
    // ready once the state file says so (every process answered its readiness check) and the
    // URL block a user reads has been printed: it follows the state file's write
    const deadline = Date.now() + 280_000;
    for (;;) {
      if (cluster.child.exitCode !== null) {
        throw new Error(`cluster:local exited with ${cluster.child.exitCode}:\n${cluster.output()}`);
      }
      const current = await readState(dir).catch(() => null);
      if (current?.ready && cluster.output().includes('Ctrl-C stops it')) {
        state = current;
        break;
      }
      if (Date.now() > deadline) throw new Error(`cluster:local not ready:\n${cluster.output()}`);
      await sleep(500);
    }
  }, 300_000);

  afterAll(async () => {
    // whatever happened above: nothing of this run stays behind
    if (cluster?.child.exitCode === null) {
      cluster.child.kill('SIGTERM');
      await once(cluster.child, 'exit');
    }
    if (dir && existsSync(dir)) {
      const down = clusterLocal(['--down', '--dir', dir]);
      await once(down.child, 'exit');
      await rm(dir, { recursive: true, force: true });
    }
  }, 120_000);

  it('prints the URLs of the edge, the API proxy, each API and the metrics', () => {
    for (const line of ['edge', 'API (round-robin proxy)', 'api-0', 'api-1', 'metrics', 'upload key']) {
      expect(cluster.output()).toContain(line);
    }
    expect(state.processes.map((p) => p.name).sort()).toEqual(
      [
        'api-0',
        'api-1',
        'edge',
        'shard-0-r0',
        'shard-0-r1',
        'shard-1-r0',
        'shard-1-r1',
        'worker-0',
        'worker-1',
      ].sort(),
    );
  });

  it('uploads through the edge and the API, indexed by the workers, found and clicked through both', async () => {
    for (const colour of VIA_EDGE) {
      const form = new FormData();
      const png = await makeColourImage({ colour, format: 'png' });
      form.set('file', new File([new Uint8Array(png)], `${colour}.png`, { type: 'image/png' }));
      form.set('metadata', JSON.stringify({ uploader_id: 'cluster-local' }));
      const response = await fetch(`${state.urls.edge}/images`, {
        method: 'POST',
        headers: { 'x-api-key': userKey() },
        body: form,
      });
      const body = (await response.json()) as { image_id?: string };
      expect(response.status, JSON.stringify(body)).toBe(201);
      ids.set(colour, body.image_id!);
    }
    for (const colour of VIA_API) {
      const png = await makeColourImage({ colour, format: 'png' });
      const form = uploadForm(png, {}, { type: 'image/png', filename: `${colour}.png` });
      const response = await fetch(`${state.urls.api}/graphql`, {
        method: 'POST',
        headers: { 'x-graphql-yoga-csrf': '1', 'x-api-key': userKey() },
        body: form,
      });
      const body = (await response.json()) as GraphQLBody<{ uploadImage: { image: { id: string } } }>;
      expect(body.errors, JSON.stringify(body.errors)).toBeUndefined();
      ids.set(colour, body.data!.uploadImage.image.id);
    }
    // the workers claim the jobs from Postgres, read the blobs from s3rver, write the shards
    await vi.waitFor(
      async () => {
        const statuses = await Promise.all(
          [...ids.values()].map(async (id) => {
            const body = await api<{ image: { status: string } }>(
              'query($id: ID!) { image(id: $id) { status } }',
              {
                id,
              },
            );
            return body.data?.image.status;
          }),
        );
        expect(statuses).toEqual([...ids.values()].map(() => 'INDEXED'));
      },
      { timeout: 90_000, interval: 500 },
    );

    // search through the API proxy (both APIs take turns) and through the edge
    for (const colour of [...VIA_EDGE, ...VIA_API]) {
      const found = await searchApi(colour);
      expect(found.partial).toBe(false);
      expect(found.hits[0]?.image.id, colour).toBe(ids.get(colour));
    }
    const viaEdge = await fetch(`${state.urls.edge}/search?q=yellow&limit=3`);
    expect(viaEdge.status).toBe(200);
    const edgeAnswer = (await viaEdge.json()) as { query_id: string; results: { image_id: string }[] };
    expect(edgeAnswer.results[0]?.image_id).toBe(ids.get('yellow'));

    // the blob comes back through the API from the S3 store
    const { hits } = await searchApi('red', 1);
    const blob = await fetch(hits[0]!.image.storageUrl);
    expect(blob.status).toBe(200);
    expect(blob.headers.get('content-type')).toBe('image/png');
    await blob.body?.cancel();

    // a click through the edge on the edge's search, and through the API on the API's search
    const edgeClick = await fetch(`${state.urls.edge}/search/${edgeAnswer.query_id}/click`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ clicked_id: ids.get('yellow') }),
    });
    expect(edgeClick.status, await edgeClick.clone().text()).toBe(200);
    const shown = await searchApi('cyan', 3);
    const click = await api<{ recordClick: { ok: boolean } }>(
      'mutation($q: ID!, $i: ID!) { recordClick(input: { queryId: $q, imageId: $i }) { ok } }',
      { q: shown.queryId, i: ids.get('cyan') },
    );
    expect(click.errors, JSON.stringify(click.errors)).toBeUndefined();
    expect(click.data?.recordClick.ok).toBe(true);
  }, 180_000);

  /** Runs `drill` under two clients searching through the API proxy; what failed, and how many did not. */
  const underSearchLoad = async (drill: () => Promise<void>) => {
    const colours = [...ids.keys()];
    let stop = false;
    const outcomes = { ok: 0, failed: [] as string[] };
    const client = async (first: number) => {
      for (let i = first; !stop; i += 2) {
        const colour = colours[i % colours.length]!;
        try {
          const found = await searchApi(colour);
          if (found.partial) outcomes.failed.push(`${colour}: partial`);
          else if (found.hits[0]?.image.id !== ids.get(colour))
            outcomes.failed.push(`${colour}: wrong top hit`);
          else outcomes.ok += 1;
        } catch (error) {
          outcomes.failed.push(`${colour}: ${error}`);
        }
        // paced: the per-address budget (1200 a minute, counted in Redis across both APIs) holds
        await sleep(100);
      }
    };
    const clients = [client(0), client(1)];
    try {
      await sleep(500);
      await drill();
    } finally {
      stop = true;
      await Promise.all(clients);
    }
    return outcomes;
  };

  /** Sends `signal` to a process and waits until the supervisor has it ready again. */
  const stopAndAwaitRestart = async (processName: string, signal: 'SIGKILL' | 'SIGTERM') => {
    const before = processOf(processName);
    process.kill(signal === 'SIGKILL' ? -before.pid! : before.pid!, signal);
    await vi.waitFor(
      async () => {
        state = (await readState(dir))!;
        const now = processOf(processName);
        expect(now.pid).not.toBeNull();
        expect(now.pid).not.toBe(before.pid);
        expect(now.restarts).toBe(before.restarts + 1);
        expect(await isReady({ role: now.role as Role, url: now.url }, () => '')).toBe(true);
      },
      { timeout: 90_000, interval: 250 },
    );
    await sleep(1000); // some load on the process it came back as
  };

  it('fails no query while each replica of a shard is killed and restarted in turn under search load', async () => {
    const outcomes = await underSearchLoad(async () => {
      // the supervisor starts it again; it reloads its snapshot and refills from Postgres
      await stopAndAwaitRestart('shard-0-r0', 'SIGKILL');
      // now its twin: shard 0 is served by the restarted replica alone
      await stopAndAwaitRestart('shard-0-r1', 'SIGKILL');
    });
    expect(outcomes.failed).toEqual([]);
    expect(outcomes.ok).toBeGreaterThan(10);
  }, 240_000);

  it('fails no query while an API drains on SIGTERM and comes back', async () => {
    const outcomes = await underSearchLoad(() => stopAndAwaitRestart('api-0', 'SIGTERM'));
    expect(outcomes.failed).toEqual([]);
    expect(outcomes.ok).toBeGreaterThan(10);
  }, 180_000);

  it('stops every process on SIGTERM; --down drops the database, the Redis keys and the directory', async () => {
    const pids = state.processes.map((p) => p.pid!);
    expect(pids.every((pid) => groupAlive(pid))).toBe(true);
    expect((await redisKeys(TEST_REDIS_URL, `${name}:`)).length).toBeGreaterThan(0);
    cluster.child.kill('SIGTERM');
    const [code] = await once(cluster.child, 'exit');
    expect(code).toBe(0);
    expect(pids.filter((pid) => groupAlive(pid))).toEqual([]);
    expect((await readState(dir))?.supervisorPid).toBeNull();

    const down = clusterLocal(['--down', '--dir', dir]);
    const [downCode] = await once(down.child, 'exit');
    expect(downCode, down.output()).toBe(0);
    expect(await databaseExists(TEST_DATABASE_URL, name)).toBe(false);
    expect(await redisKeys(TEST_REDIS_URL, `${name}:`)).toEqual([]);
    expect(existsSync(dir)).toBe(false);
  }, 120_000);
});
