import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import type { Config } from '../../api/src/config/config.ts';
import { getModelEntry } from '../../api/src/encoder/registry.ts';
import { clusterProcesses, DEFAULT_SHAPE, planPorts } from '../../infra/cluster-local/topology.ts';
import { PACKAGE_ROOT, parseShardsSetting } from '../../search-cluster/src/index.ts';
import type { ShardServerConfig } from '../../search-cluster/src/server/config.ts';
import { IMAGE_ENV, ROLES, unknownVariables } from './roles.ts';

// infra/compose/compose.yaml read as compose reads it (interpolated with .env.example, YAML merge
// keys resolved) and checked against the configuration schemas and cluster:local's topology.
// Nothing is run: podman-compose or docker are not needed.

const COMPOSE_DIR = path.join(PACKAGE_ROOT, 'infra/compose');

interface Service {
  image?: string;
  command?: string[];
  environment?: Record<string, string | number | boolean>;
  ports?: string[];
  volumes?: string[];
  depends_on?: Record<string, { condition: string }>;
  profiles?: string[];
}

/** KEY=VALUE lines, comments and blanks skipped. */
function readDotEnv(file: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const match = /^\s*([A-Z_][A-Z0-9_]*)=(.*)$/.exec(line);
    if (match) env[match[1]!] = match[2]!;
  }
  return env;
}

/** Compose's interpolation: ${VAR}, ${VAR:-default}, ${VAR:?error}, and $$ for a literal $. */
function interpolate(text: string, env: Record<string, string>): string {
  return text.replace(/\$\$|\$\{([A-Z_][A-Z0-9_]*)(?:(:-|:\?)([^}]*))?\}/g, (whole, name, op, arg) => {
    if (whole === '$$') return '$';
    const value = env[name];
    if (value !== undefined && value !== '') return value;
    if (op === ':-') return arg;
    throw new Error(`compose would refuse to start: ${name} is unset (${arg ?? 'no default'})`);
  });
}

const sampleEnv = readDotEnv(path.join(COMPOSE_DIR, '.env.example'));
const composeText = readFileSync(path.join(COMPOSE_DIR, 'compose.yaml'), 'utf8');
const compose = parse(interpolate(composeText, sampleEnv), { merge: true }) as {
  services: Record<string, Service>;
  volumes: Record<string, unknown>;
};
const services = Object.entries(compose.services);
/** The image every Pixelfind service runs (PIXELFIND_IMAGE is unset in .env.example). */
const image = 'pixelfind:latest';
const pixelfind = services.filter(([, s]) => s.image === image);
const roleOf = (s: Service) => s.command?.[0] ?? 'api';
/** The environment the process sees: the image's ENV, then the service's. */
const envOf = (s: Service) => ({
  ...IMAGE_ENV,
  ...Object.fromEntries(Object.entries(s.environment ?? {}).map(([k, v]) => [k, String(v)])),
});
const ofRole = (role: string) => pixelfind.filter(([, s]) => roleOf(s) === role);

describe('infra/compose/compose.yaml', () => {
  it('needs every secret it uses from .env, and .env.example names them all', () => {
    expect(() => interpolate(composeText, {})).toThrow(/POSTGRES_PASSWORD/);
    const required = [...composeText.matchAll(/\$\{([A-Z_][A-Z0-9_]*):\?/g)].map((m) => m[1]!);
    expect(new Set(required)).toEqual(
      new Set([
        'POSTGRES_PASSWORD',
        'S3_ACCESS_KEY_ID',
        'S3_SECRET_ACCESS_KEY',
        'SHARD_AUTH_TOKEN',
        'EDGE_SIGNING_KEY',
        'METRICS_TOKEN',
      ]),
    );
    for (const name of required) expect(sampleEnv[name], name).toBeTruthy();
  });

  it('the checks catch a misspelt variable and a bad value (so a pass means something)', () => {
    const [, api] = ofRole('api')[0]!;
    expect(unknownVariables('api', { ...envOf(api), SHARD_DEADLINE: '100' })).toEqual(['SHARD_DEADLINE']);
    expect(() => ROLES.api!.load({ ...envOf(api), SHARDS: 'shard-0-r0:7001' })).toThrow(/SHARDS/);
    const [, shard] = ofRole('shard-server')[0]!;
    expect(() => ROLES['shard-server']!.load({ ...envOf(shard), SHARD_AUTH_TOKEN: '' })).toThrow(
      /SHARD_AUTH_TOKEN/,
    );
  });

  it('runs every Pixelfind role from the one image, each variable known to the role and valid', () => {
    expect(pixelfind.length).toBeGreaterThan(0);
    for (const [name, service] of pixelfind) {
      const role = roleOf(service);
      expect(ROLES[role], `${name}: role ${role}`).toBeDefined();
      const env = envOf(service);
      expect(unknownVariables(role, env), `${name} sets variables its role does not read`).toEqual([]);
      expect(() => ROLES[role]!.load(env), name).not.toThrow();
    }
  });

  it('mirrors cluster:local: the same processes under the same names, 2 shards x 2 replicas', async () => {
    const local = clusterProcesses({
      shape: DEFAULT_SHAPE,
      ports: await planPorts(DEFAULT_SHAPE, 4400, async () => 0),
      runtime: 'dist',
      dir: '/tmp/x',
      databaseUrl: 'postgres://x/y',
      redisUrl: 'redis://x',
      redisPrefix: 'x:',
      s3: { endpoint: 'http://x', bucket: 'b', accessKeyId: 'a', secretAccessKey: 's' },
      model: { name: 'tiny-clip-v1', dimension: 64 },
      shardAuthToken: 't'.repeat(32),
      edgeSigningKey: 'k',
      metricsToken: 'm',
      graphiql: false,
    });
    // the edge is Cloudflare's to run (wrangler dev locally); one-shot roles are not in cluster:local
    const longRunning = pixelfind.filter(([, s]) => ['api', 'worker', 'shard-server'].includes(roleOf(s)));
    expect(longRunning.map(([name]) => name).sort()).toEqual(
      local
        .filter((p) => p.role !== 'edge')
        .map((p) => p.name)
        .sort(),
    );
    for (const [name, service] of longRunning) {
      expect(roleOf(service), name).toBe(local.find((p) => p.name === name)!.role);
    }
    expect(ofRole('api')).toHaveLength(DEFAULT_SHAPE.apis);
    expect(ofRole('worker')).toHaveLength(DEFAULT_SHAPE.workers);
    expect(ofRole('shard-server')).toHaveLength(DEFAULT_SHAPE.shards * DEFAULT_SHAPE.replicas);
  });

  it("routes SHARDS to the shard services on their ports, each with its SHARD_ID, own volume and the API's model", () => {
    const urls = new Set(
      ofRole('api')
        .concat(ofRole('worker'))
        .map(([, s]) => envOf(s).SHARDS),
    );
    expect(urls.size).toBe(1);
    const setting = parseShardsSetting([...urls][0]);
    if (setting.mode !== 'remote') throw new Error('SHARDS must list remote replicas');
    expect(setting.replicas).toHaveLength(DEFAULT_SHAPE.shards);
    const named = setting.replicas.flat().map((u) => new URL(u).hostname);
    expect(new Set(named).size).toBe(named.length);
    expect(named.sort()).toEqual(
      ofRole('shard-server')
        .map(([name]) => name)
        .sort(),
    );
    const volumes = new Set<string>();
    setting.replicas.forEach((group, shardId) => {
      for (const url of group) {
        const { hostname, port } = new URL(url);
        const service = compose.services[hostname]!;
        const config = ROLES['shard-server']!.load(envOf(service)) as ShardServerConfig;
        expect(config.shardId, url).toBe(shardId);
        expect(config.shardCount).toBe(setting.replicas.length);
        expect(config.port).toBe(Number(port));
        // beyond loopback: the token, the same one the API and workers send
        expect(config.authToken).toBe(envOf(ofRole('api')[0]![1]).SHARD_AUTH_TOKEN);
        const model = getModelEntry(envOf(ofRole('api')[0]![1]).PIXELFIND_MODEL!);
        expect(config.modelVersions).toEqual([{ name: model.modelVersion, dimension: model.dimension }]);
        const volume = service.volumes?.find((v) => v.endsWith(`:${config.dataDir}`));
        expect(volume, `${hostname}: a volume at its DATA_DIR ${config.dataDir}`).toBeDefined();
        volumes.add(volume!.split(':')[0]!);
      }
    });
    expect(volumes.size).toBe(ofRole('shard-server').length);
  });

  it('publishes each API on its PORT and reaches the stores by their service names', () => {
    const published = new Set<string>();
    for (const [name, service] of ofRole('api')) {
      const config = ROLES.api!.load(envOf(service)) as Config;
      expect(config.mode).toBe('cluster');
      const [hostPort, containerPort] = (service.ports ?? [])[0]!.split(':').slice(-2);
      expect(Number(containerPort), name).toBe(config.port);
      published.add(hostPort!);
    }
    expect(published.size).toBe(ofRole('api').length);
    const core = ROLES.worker!.load(envOf(ofRole('worker')[0]![1])) as Config;
    const postgres = compose.services[new URL(core.databaseUrl!).hostname]!;
    const db = new URL(core.databaseUrl!);
    expect(postgres.environment).toMatchObject({
      POSTGRES_USER: db.username,
      POSTGRES_PASSWORD: db.password,
      POSTGRES_DB: db.pathname.slice(1),
    });
    expect(compose.services[new URL(core.redisUrl!).hostname]?.image).toMatch(/^redis:/);
    if (core.blobs.kind !== 's3') throw new Error('blobs must be S3 in compose');
    const s3 = compose.services[new URL(core.blobs.endpoint!).hostname]!;
    expect(s3.environment).toMatchObject({
      MINIO_ROOT_USER: core.blobs.accessKeyId,
      MINIO_ROOT_PASSWORD: core.blobs.secretAccessKey,
    });
    // the bucket exists before a worker or an API starts
    expect(compose.services['s3-init']?.command?.join(' ')).toContain(`local/${core.blobs.bucket}`);
  });

  it('starts nothing before the migrations ran, and depends only on services that exist', () => {
    for (const [name, service] of services) {
      for (const dependency of Object.keys(service.depends_on ?? {})) {
        expect(compose.services[dependency], `${name} depends on ${dependency}`).toBeDefined();
      }
    }
    for (const [name, service] of pixelfind.filter(([, s]) => roleOf(s) !== 'migrate')) {
      expect(service.depends_on?.migrate?.condition, name).toBe('service_completed_successfully');
    }
    for (const [name, service] of services) {
      for (const volume of service.volumes ?? []) {
        expect(compose.volumes, `${name}: volume ${volume}`).toHaveProperty(volume.split(':')[0]!);
      }
    }
  });
});
