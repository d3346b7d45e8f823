/**
 * The Kubernetes manifests (infra/k8s/) validate offline: each overlay is rendered (the same
 * objects as `kubectl kustomize` where kubectl is installed), every object is checked against the
 * Kubernetes and Prometheus operator schemas (kubernetes-models), and against the code it runs:
 * each environment variable a container sets is one its process reads and parses, SHARDS names
 * the StatefulSets' pods, every containerPort is where the process listens, every probe and scrape
 * target names a declared port, and every probe and scrape path answers on the real process.
 */
import { type ChildProcess, execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import * as monitoring from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1';
import * as apps from 'kubernetes-models/apps/v1';
import * as autoscaling from 'kubernetes-models/autoscaling/v2';
import * as batch from 'kubernetes-models/batch/v1';
import * as networking from 'kubernetes-models/networking.k8s.io/v1';
import * as policy from 'kubernetes-models/policy/v1';
import * as core from 'kubernetes-models/v1';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { loadConfig, loadWorkerConfig } from '../../api/src/config/config.ts';
import { getModelEntry } from '../../api/src/encoder/registry.ts';
import { PACKAGE_ROOT, parseShardsSetting } from '../../search-cluster/src/index.ts';
import { loadShardServerConfig } from '../../search-cluster/src/server/config.ts';
import {
  createEmbeddedBackend,
  createPostgresBackend,
  postgresAvailable,
  redisAvailable,
  TEST_REDIS_URL,
} from '../support/backends.ts';
import { databaseUrlOf, freePort, spawnTsx, startShardServer } from '../support/processes.ts';
import { createTestApp, type TestApp } from '../support/test-app.ts';
import { type K8sObject, podContainers, podSpecOf, renderKustomization } from './kustomize.ts';
import { ROLES, unknownVariables } from './roles.ts';

const K8S_DIR = path.join(PACKAGE_ROOT, 'infra/k8s');
const OVERLAYS = ['dev', 'prod'] as const;

type Container = {
  name: string;
  image: string;
  args?: string[];
  ports?: { name?: string; containerPort: number }[];
  env?: { name: string; value?: string; valueFrom?: { secretKeyRef?: { name: string; key: string } } }[];
  envFrom?: { configMapRef?: { name: string }; secretRef?: { name: string } }[];
  startupProbe?: Probe;
  livenessProbe?: Probe;
  readinessProbe?: Probe;
};
type Probe = { httpGet?: { path: string; port: string | number } };

/** Each object checked by its kubernetes-models class (an unknown kind fails the test). */
const MODELS: Record<string, new (data: never) => { validate(): void }> = {
  'v1/ConfigMap': core.ConfigMap,
  'v1/Secret': core.Secret,
  'v1/Service': core.Service,
  'apps/v1/Deployment': apps.Deployment,
  'apps/v1/StatefulSet': apps.StatefulSet,
  'autoscaling/v2/HorizontalPodAutoscaler': autoscaling.HorizontalPodAutoscaler,
  'policy/v1/PodDisruptionBudget': policy.PodDisruptionBudget,
  'networking.k8s.io/v1/NetworkPolicy': networking.NetworkPolicy,
  'batch/v1/Job': batch.Job,
  'batch/v1/CronJob': batch.CronJob,
  'monitoring.coreos.com/v1/ServiceMonitor': monitoring.ServiceMonitor,
  'monitoring.coreos.com/v1/PodMonitor': monitoring.PodMonitor,
};

const rendered = Object.fromEntries(
  OVERLAYS.map((overlay) => [overlay, renderKustomization(path.join(K8S_DIR, 'overlays', overlay))]),
) as Record<(typeof OVERLAYS)[number], K8sObject[]>;
const secretValues = () => {
  const secret = rendered.dev.find((o) => o.kind === 'Secret' && o.metadata.name === 'pixelfind-secrets');
  return (secret?.stringData ?? {}) as Record<string, string>;
};

const kubectlKustomize = (() => {
  try {
    execFileSync('kubectl', ['kustomize', '--help'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

const objectKey = (o: K8sObject) => `${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`;
const find = (objects: K8sObject[], kind: string, name: string) => {
  const found = objects.find((o) => o.kind === kind && o.metadata.name === name);
  if (!found) throw new Error(`${kind}/${name} is missing`);
  return found;
};
const workloads = (objects: K8sObject[]) => objects.filter((o) => podSpecOf(o) !== undefined);
const podLabels = (o: K8sObject) =>
  ((o.spec as { template?: { metadata?: { labels?: Record<string, string> } } }).template?.metadata?.labels ??
    {}) as Record<string, string>;
const selects = (selector: Record<string, string>, labels: Record<string, string>) =>
  Object.entries(selector).every(([k, v]) => labels[k] === v);
const mainContainers = (o: K8sObject) => (podSpecOf(o)!.containers ?? []) as Container[];
const roleOf = (c: Container) => c.args?.[0] ?? 'api';

/** A container's environment as the kubelet would give it (ConfigMaps and the dev Secret resolved). */
function environmentOf(objects: K8sObject[], c: Container): Record<string, string> {
  const env: Record<string, string> = {};
  for (const from of c.envFrom ?? []) {
    if (from.configMapRef) {
      Object.assign(env, find(objects, 'ConfigMap', from.configMapRef.name).data as Record<string, string>);
    } else throw new Error(`${c.name}: envFrom other than a ConfigMap`);
  }
  for (const entry of c.env ?? []) {
    if (entry.value !== undefined) env[entry.name] = entry.value;
    else if (entry.valueFrom?.secretKeyRef) {
      const { name, key } = entry.valueFrom.secretKeyRef;
      expect(name, `${c.name}: ${entry.name}`).toBe('pixelfind-secrets');
      const value = secretValues()[key];
      if (value === undefined)
        throw new Error(`${c.name}: ${entry.name} reads the secret key ${key}, which the dev Secret lacks`);
      env[entry.name] = value;
    } else throw new Error(`${c.name}: ${entry.name} has neither a value nor a secretKeyRef`);
  }
  return env;
}

it('the schema check rejects what the API server would (so a pass means something)', () => {
  const deployment = structuredClone(find(rendered.prod, 'Deployment', 'api'));
  expect(() => new apps.Deployment(deployment as never).validate()).not.toThrow();
  (deployment.spec as { replicas: unknown }).replicas = 'three';
  expect(() => new apps.Deployment(deployment as never).validate()).toThrow();
  const monitor = structuredClone(find(rendered.prod, 'ServiceMonitor', 'api'));
  (monitor.spec as { endpoints: unknown }).endpoints = 'http';
  expect(() => new monitoring.ServiceMonitor(monitor as never).validate()).toThrow();
});

describe.each(OVERLAYS)('infra/k8s/overlays/%s', (overlay) => {
  const objects = rendered[overlay];

  it.runIf(kubectlKustomize)('renders the same objects as `kubectl kustomize`', () => {
    const output = execFileSync('kubectl', ['kustomize', path.join(K8S_DIR, 'overlays', overlay)], {
      encoding: 'utf8',
    });
    const theirs = parseAllDocuments(output).map((doc) => doc.toJS() as K8sObject);
    expect(theirs.map(objectKey).sort()).toEqual(objects.map(objectKey).sort());
    const mine = new Map(objects.map((o) => [objectKey(o), o]));
    for (const o of theirs) expect(isDeepStrictEqual(mine.get(objectKey(o)), o), objectKey(o)).toBe(true);
  });

  it('validates every object against its schema', () => {
    expect(objects.length).toBeGreaterThan(10);
    for (const o of objects) {
      const Model = MODELS[`${o.apiVersion}/${o.kind}`];
      expect(Model, `${objectKey(o)}: no schema for ${o.apiVersion}/${o.kind}`).toBeDefined();
      expect(() => new Model!(structuredClone(o) as never).validate(), objectKey(o)).not.toThrow();
    }
  });

  it('has the topology: API and worker Deployments, a StatefulSet and headless Service per shard group', () => {
    expect(roleOf(mainContainers(find(objects, 'Deployment', 'api'))[0]!)).toBe('api');
    expect(roleOf(mainContainers(find(objects, 'Deployment', 'worker'))[0]!)).toBe('worker');
    const config = find(objects, 'ConfigMap', 'pixelfind-config').data as Record<string, string>;
    expect(config.PIXELFIND_MODE).toBe('cluster');
    const setting = parseShardsSetting(config.SHARDS);
    if (setting.mode !== 'remote') throw new Error('SHARDS must list remote replicas');
    const groups = setting.replicas;
    const statefulSets = objects.filter((o) => o.kind === 'StatefulSet');
    expect(statefulSets).toHaveLength(groups.length);
    groups.forEach((replicas, group) => {
      for (const replica of replicas) {
        // http://<statefulset>-<ordinal>.<service>:<port>: a pod of the group's StatefulSet
        const url = new URL(replica);
        const [pod, service] = url.hostname.split('.');
        const set = statefulSets.find((s) => pod!.startsWith(`${s.metadata.name}-`));
        expect(set, replica).toBeDefined();
        const spec = set!.spec as { serviceName: string; replicas: number; volumeClaimTemplates: unknown[] };
        expect(service).toBe(spec.serviceName);
        expect(Number(pod!.slice(set!.metadata.name.length + 1))).toBeLessThan(spec.replicas);
        const [shard] = mainContainers(set!);
        const env = environmentOf(objects, shard!);
        expect(Number(env.SHARD_ID), replica).toBe(group);
        expect(Number(env.SHARD_COUNT)).toBe(groups.length);
        expect(Number(url.port)).toBe(shard!.ports![0]!.containerPort);
        // snapshots on a persistent volume mounted at the replica's DATA_DIR
        expect(spec.volumeClaimTemplates).toHaveLength(1);
        const headless = find(objects, 'Service', spec.serviceName).spec as {
          clusterIP: string;
          selector: Record<string, string>;
        };
        expect(headless.clusterIP).toBe('None');
        expect(selects(headless.selector, podLabels(set!))).toBe(true);
        // every shard server serves the model the API and workers encode with, at its dimension
        const model = getModelEntry(config.PIXELFIND_MODEL!);
        expect(env.MODEL_VERSIONS).toContain(`${model.modelVersion}:${model.dimension}`);
      }
    });
  });

  it('fetches, before the API and the workers start, the model they encode with', () => {
    const config = find(objects, 'ConfigMap', 'pixelfind-config').data as Record<string, string>;
    const model = getModelEntry(config.PIXELFIND_MODEL!);
    for (const name of ['api', 'worker']) {
      const init = (
        (podSpecOf(find(objects, 'Deployment', name))!.initContainers ?? []) as Container[]
      ).filter((c) => roleOf(c) === 'model-download');
      if (model.download) {
        // the real model: downloaded into the pod's models volume, where MODELS_DIR points
        expect(
          init.map((c) => c.args?.slice(1)),
          name,
        ).toEqual([[model.modelVersion]]);
        expect(environmentOf(objects, init[0]!).MODELS_DIR).toBe(config.MODELS_DIR);
      } else {
        // a test model the image ships: nothing to download
        expect(init, name).toEqual([]);
      }
    }
  });

  it('keeps one replica per shard group through disruptions, and one API pod', () => {
    const budgets = objects.filter((o) => o.kind === 'PodDisruptionBudget');
    for (const set of objects.filter((o) => o.kind === 'StatefulSet')) {
      const budget = budgets.find((b) =>
        selects(
          (b.spec as { selector: { matchLabels: Record<string, string> } }).selector.matchLabels,
          podLabels(set),
        ),
      );
      expect(budget, set.metadata.name).toBeDefined();
      expect((budget!.spec as { minAvailable: number }).minAvailable).toBe(1);
      // and the budget covers that group only
      for (const other of objects.filter((o) => o.kind === 'StatefulSet' && o !== set)) {
        const { matchLabels } = (budget!.spec as { selector: { matchLabels: Record<string, string> } })
          .selector;
        expect(selects(matchLabels, podLabels(other))).toBe(false);
      }
    }
    expect((find(objects, 'PodDisruptionBudget', 'api').spec as { minAvailable: number }).minAvailable).toBe(
      1,
    );
  });

  it('scales the API on CPU and the workers on the queue depth', () => {
    type Hpa = {
      scaleTargetRef: { kind: string; name: string };
      minReplicas: number;
      maxReplicas: number;
      metrics: {
        type: string;
        external?: { metric: { name: string; selector?: { matchLabels: Record<string, string> } } };
      }[];
    };
    const api = find(objects, 'HorizontalPodAutoscaler', 'api').spec as Hpa;
    const worker = find(objects, 'HorizontalPodAutoscaler', 'worker').spec as Hpa;
    expect(api.scaleTargetRef).toMatchObject({ kind: 'Deployment', name: 'api' });
    expect(worker.scaleTargetRef).toMatchObject({ kind: 'Deployment', name: 'worker' });
    expect(api.minReplicas).toBeGreaterThanOrEqual(1);
    expect(api.maxReplicas).toBeGreaterThan(api.minReplicas);
    const queue = worker.metrics.find((m) => m.type === 'External')!.external!.metric;
    // the API's gauge of index jobs by state (api/src/services.ts)
    expect(queue).toEqual({ name: 'pixelfind_index_jobs', selector: { matchLabels: { state: 'queued' } } });
  });

  it('lets only API and worker pods (and Prometheus) reach the shard servers', () => {
    const policies = objects.filter((o) => o.kind === 'NetworkPolicy');
    type Peer = { podSelector?: { matchLabels: Record<string, string> }; namespaceSelector?: unknown };
    type Policy = {
      podSelector: { matchLabels: Record<string, string> };
      policyTypes: string[];
      ingress: { from: Peer[] }[];
    };
    const shardPods = objects.filter((o) => o.kind === 'StatefulSet').map(podLabels);
    const policy = policies.find((p) =>
      shardPods.every((labels) => selects((p.spec as Policy).podSelector.matchLabels, labels)),
    );
    expect(policy).toBeDefined();
    const spec = policy!.spec as Policy;
    expect(spec.policyTypes).toContain('Ingress');
    const inNamespace = spec.ingress.flatMap((rule) => rule.from).filter((peer) => !peer.namespaceSelector);
    const allowed = new Set(
      workloads(objects)
        .filter((w) => inNamespace.some((peer) => selects(peer.podSelector!.matchLabels, podLabels(w))))
        .map((w) => w.metadata.name),
    );
    expect([...allowed].sort()).toEqual(['api', 'worker']);
    // the one peer outside the namespace is Prometheus
    for (const peer of spec.ingress.flatMap((rule) => rule.from).filter((p) => p.namespaceSelector)) {
      expect(peer.podSelector?.matchLabels).toEqual({ 'app.kubernetes.io/name': 'prometheus' });
    }
  });

  it('runs the migrations in a Job, and needs no CronJob (maintenance runs in process)', () => {
    const job = find(objects, 'Job', 'migrate');
    expect(mainContainers(job).map(roleOf)).toEqual(['migrate']);
    expect(objects.filter((o) => o.kind === 'CronJob')).toEqual([]);
  });

  it('sets only variables each process reads, with values it accepts', () => {
    for (const workload of workloads(objects)) {
      for (const c of podContainers(workload) as Container[]) {
        const role = ROLES[roleOf(c)];
        expect(role, `${workload.metadata.name}/${c.name}: role ${roleOf(c)}`).toBeDefined();
        const env = environmentOf(objects, c);
        expect(unknownVariables(roleOf(c), env), `${workload.metadata.name}/${c.name} sets`).toEqual([]);
        expect(() => role!.load(env), `${workload.metadata.name}/${c.name}`).not.toThrow();
        expect(c.image).toMatch(
          overlay === 'prod' ? /^registry\.example\.com\/pixelfind:/ : /pixelfind:latest$/,
        );
      }
    }
  });

  it('exposes each container on the port its process listens on, and probes and scrapes declared ports', () => {
    for (const workload of workloads(objects)) {
      for (const c of mainContainers(workload)) {
        const env = environmentOf(objects, c);
        const listens = listeningPort(roleOf(c), env);
        if (listens === null) {
          expect(c.ports ?? []).toEqual([]);
          continue;
        }
        expect(c.ports, `${workload.metadata.name}/${c.name}`).toEqual([
          expect.objectContaining({ name: 'http', containerPort: listens }),
        ]);
        for (const probe of [c.startupProbe, c.livenessProbe, c.readinessProbe]) {
          expect(probe?.httpGet?.port, `${workload.metadata.name}/${c.name}`).toBe('http');
        }
      }
    }
    for (const service of objects.filter((o) => o.kind === 'Service')) {
      const spec = service.spec as { selector: Record<string, string>; ports: { targetPort: string }[] };
      const targets = workloads(objects).filter((w) => selects(spec.selector, podLabels(w)));
      expect(targets.length, service.metadata.name).toBe(1);
      for (const port of spec.ports) {
        expect(
          mainContainers(targets[0]!)
            .flatMap((c) => c.ports ?? [])
            .map((p) => p.name),
        ).toContain(port.targetPort);
      }
    }
    for (const monitor of objects.filter((o) => o.kind === 'ServiceMonitor' || o.kind === 'PodMonitor')) {
      const spec = monitor.spec as {
        selector: { matchLabels: Record<string, string> };
        endpoints?: { port: string }[];
        podMetricsEndpoints?: { port: string }[];
      };
      const endpoints = spec.endpoints ?? spec.podMetricsEndpoints ?? [];
      const targets =
        monitor.kind === 'ServiceMonitor'
          ? objects.filter(
              (o) => o.kind === 'Service' && selects(spec.selector.matchLabels, o.metadata.labels ?? {}),
            )
          : workloads(objects).filter((w) => selects(spec.selector.matchLabels, podLabels(w)));
      expect(targets.length, monitor.metadata.name).toBeGreaterThan(0);
      for (const target of targets) {
        const ports =
          target.kind === 'Service'
            ? (target.spec as { ports: { name: string }[] }).ports.map((p) => p.name)
            : mainContainers(target).flatMap((c) => (c.ports ?? []).map((p) => p.name));
        for (const endpoint of endpoints) expect(ports, monitor.metadata.name).toContain(endpoint.port);
      }
    }
  });
});

/** Where a role's process listens, from its own config loader; null for one-shot roles. */
function listeningPort(role: string, env: Record<string, string>): number | null {
  if (role === 'api') return loadConfig(env).port;
  if (role === 'shard-server') return loadShardServerConfig(env).port;
  if (role === 'worker') return loadWorkerConfig(env).port;
  return null;
}

/** The HTTP paths the manifests probe and scrape, per role, across both overlays. */
function pathsOf(role: string): string[] {
  const paths = new Set<string>();
  for (const objects of Object.values(rendered)) {
    for (const workload of workloads(objects)) {
      for (const c of mainContainers(workload).filter((c) => roleOf(c) === role)) {
        for (const probe of [c.startupProbe, c.livenessProbe, c.readinessProbe]) {
          if (probe?.httpGet) paths.add(probe.httpGet.path);
        }
        for (const monitor of objects.filter((o) => o.kind === 'ServiceMonitor' || o.kind === 'PodMonitor')) {
          const spec = monitor.spec as {
            selector: { matchLabels: Record<string, string> };
            endpoints?: { path: string }[];
            podMetricsEndpoints?: { path: string }[];
          };
          const service = objects.find(
            (o) => o.kind === 'Service' && selects(spec.selector.matchLabels, o.metadata.labels ?? {}),
          );
          const scraped = service
            ? selects((service.spec as { selector: Record<string, string> }).selector, podLabels(workload))
            : selects(spec.selector.matchLabels, podLabels(workload));
          if (scraped) for (const e of spec.endpoints ?? spec.podMetricsEndpoints ?? []) paths.add(e.path);
        }
      }
    }
  }
  return [...paths].sort();
}

describe('the probe and scrape paths answer on the processes they target', () => {
  it('the API: /healthz, /readyz and /metrics (with METRICS_TOKEN)', async () => {
    expect(pathsOf('api')).toEqual(['/healthz', '/metrics', '/readyz']);
    const backend = await createEmbeddedBackend();
    const token = secretValues().METRICS_TOKEN!;
    let t: TestApp | undefined;
    try {
      t = await createTestApp(backend, { METRICS_TOKEN: token }, { nsfw: false });
      for (const probePath of pathsOf('api')) {
        const response = await t.app.fetch(`http://pixelfind.test${probePath}`, {
          headers: { authorization: `Bearer ${token}` },
        });
        expect(response.status, probePath).toBe(200);
      }
    } finally {
      await t?.close();
      await backend.dispose();
    }
  });

  describe('a shard server', () => {
    let child: ChildProcess | null = null;
    let dataDir = '';
    let port = 0;
    beforeAll(async () => {
      dataDir = await mkdtemp(path.join(tmpdir(), 'pixelfind-k8s-shard-'));
      port = await freePort();
      child = await startShardServer(
        {
          ...process.env,
          SHARD_ID: '0',
          SHARD_COUNT: '1',
          PORT: String(port),
          DATA_DIR: dataDir,
          MODEL_VERSIONS: 'tiny-clip-v1:64',
          SHARD_AUTH_TOKEN: secretValues().SHARD_AUTH_TOKEN,
        },
        port,
      );
    });
    afterAll(async () => {
      child?.kill('SIGKILL');
      if (dataDir) await rm(dataDir, { recursive: true, force: true });
    });
    const get = (probePath: string) =>
      fetch(`http://127.0.0.1:${port}${probePath}`, {
        headers: { authorization: `Bearer ${secretValues().SHARD_AUTH_TOKEN}` },
      });

    it('/healthz, the liveness and startup probe', async () => {
      expect(pathsOf('shard-server')).toEqual(['/healthz', '/metrics', '/readyz']);
      expect((await get('/healthz')).status).toBe(200);
    });

    it('/readyz and /metrics (with SHARD_AUTH_TOKEN)', async () => {
      for (const probePath of ['/readyz', '/metrics'])
        expect((await get(probePath)).status, probePath).toBe(200);
    });

    // the worker process in cluster mode over this shard server, on its own database
    it.runIf(postgresAvailable && redisAvailable)(
      'a worker: /healthz, /readyz and /metrics (with METRICS_TOKEN) on WORKER_PORT',
      async () => {
        expect(pathsOf('worker')).toEqual(['/healthz', '/metrics', '/readyz']);
        const backend = await createPostgresBackend();
        const workerDir = await mkdtemp(path.join(tmpdir(), 'pixelfind-k8s-worker-'));
        const workerPort = await freePort();
        const worker = spawnTsx('api/src/worker-main.ts', {
          ...process.env,
          PIXELFIND_MODE: 'cluster',
          DATABASE_URL: await databaseUrlOf(backend),
          REDIS_URL: TEST_REDIS_URL,
          SHARDS: `http://127.0.0.1:${port}`,
          SHARD_AUTH_TOKEN: secretValues().SHARD_AUTH_TOKEN,
          METRICS_TOKEN: secretValues().METRICS_TOKEN,
          WORKER_PORT: String(workerPort),
          HOST: '127.0.0.1',
          DATA_DIR: workerDir,
          PIXELFIND_MODEL: 'tiny-clip-v1',
          LOG_LEVEL: 'warn',
        });
        try {
          const statusOf = async (probePath: string) =>
            (
              await fetch(`http://127.0.0.1:${workerPort}${probePath}`, {
                headers: { authorization: `Bearer ${secretValues().METRICS_TOKEN}` },
              }).catch(() => null)
            )?.status;
          // the listener comes up once the worker has loaded its models
          const deadline = Date.now() + 90_000;
          while ((await statusOf('/readyz')) !== 200 && Date.now() < deadline) {
            await new Promise((r) => setTimeout(r, 250));
          }
          for (const probePath of pathsOf('worker')) expect(await statusOf(probePath), probePath).toBe(200);
        } finally {
          worker.kill('SIGKILL');
          await once(worker, 'exit');
          await backend.dispose();
          await rm(workerDir, { recursive: true, force: true });
        }
      },
      120_000,
    );
  });
});
