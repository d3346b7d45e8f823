import { describe, expect, it } from 'vitest';
import { DEFAULT_SHARD_DEADLINE_MS } from '../../../search-cluster/src/index.ts';
import { loadCliConfig, loadConfig } from './config.ts';

// cluster mode refuses to start without its shared stores; these tests look at other rules
const CLUSTER = {
  PIXELFIND_MODE: 'cluster',
  DATABASE_URL: 'postgres://db.internal/pixelfind',
  REDIS_URL: 'redis://cache.internal:6379',
  SHARDS: 'http://shard-0:7001,http://shard-1:7001',
};

describe('configuration', () => {
  it('single node on loopback lets anonymous callers upload; other addresses and cluster mode do not', () => {
    expect(loadConfig({}).allowAnonymousUploads).toBe(true);
    expect(loadConfig({ HOST: '0.0.0.0' }).allowAnonymousUploads).toBe(false);
    expect(loadConfig(CLUSTER).allowAnonymousUploads).toBe(false);
    expect(loadConfig({ ...CLUSTER, ALLOW_ANONYMOUS_UPLOADS: 'true' }).allowAnonymousUploads).toBe(true);
  });

  it('defaults: port 4000, ./data, embedded database and cache, in-process worker only in single mode', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      port: 4000,
      host: '127.0.0.1',
      databaseUrl: null,
      redisUrl: null,
      inProcessWorker: true,
    });
    expect(config.dataDir.endsWith('/data')).toBe(true);
    expect(loadConfig(CLUSTER).inProcessWorker).toBe(false);
  });

  it('refuses settings it cannot read, naming them', () => {
    expect(() => loadConfig({ PORT: 'eighty' })).toThrow(/PORT/);
    expect(() => loadConfig({ PIXELFIND_MODE: 'multi' })).toThrow(/PIXELFIND_MODE/);
    expect(() => loadConfig({ SEARCH_TOP_K: '50' })).toThrow(
      /SEARCH_TOP_K is "50"; expected an integer from 100 to 500/,
    );
    expect(() => loadConfig({ SAFETY_THRESHOLD: '2' })).toThrow(/SAFETY_THRESHOLD/);
  });
});

describe('configuration errors', () => {
  const issuesOf = (env: Record<string, string>) => {
    try {
      loadConfig(env);
    } catch (error) {
      return (error as Error).message.split('\n');
    }
    throw new Error('expected a ConfigError');
  };

  it('names every bad variable on its own line, with its value and what is expected', () => {
    expect(
      issuesOf({ PORT: '99999', DATABASE_URL: 'notaurl', SHARDS: 'garbage', LOG_LEVEL: 'loud' }),
    ).toEqual([
      'config: LOG_LEVEL is "loud"; expected one of fatal, error, warn, info, debug, trace, silent',
      'config: DATABASE_URL is "notaurl"; expected a postgres:// or postgresql:// URL',
      expect.stringMatching(
        /^config: SHARDS is "garbage"; expected a shard count \(1-1024\) or http:\/\/ shard URLs/,
      ),
      'config: PORT is "99999"; expected an integer from 0 to 65535',
    ]);
  });

  it('never echoes a password or a secret', () => {
    const [line] = issuesOf({ DATABASE_URL: 'mysql://admin:hunter2@db/x' });
    expect(line).toBe(
      'config: DATABASE_URL is "mysql://admin:***@db/x"; expected a postgres:// or postgresql:// URL',
    );
    const [key] = issuesOf({ PIXELFIND_MODE: 'single', PORT: '1', S3_ENDPOINT: 'ftp://sekrit' });
    expect(key).toMatch(/S3_ENDPOINT/);
  });

  it('cluster mode refuses to start on embedded stores, naming what is missing', () => {
    expect(issuesOf({ PIXELFIND_MODE: 'cluster' }).map((line) => line.split(' ')[1])).toEqual([
      'DATABASE_URL',
      'REDIS_URL',
      'SHARDS',
    ]);
    expect(issuesOf({ ...CLUSTER, REDIS_URL: '' })).toEqual([
      expect.stringMatching(/^config: REDIS_URL is ""; expected a value: PIXELFIND_MODE=cluster needs/),
    ]);
    const allowed = loadConfig({ PIXELFIND_MODE: 'cluster', PIXELFIND_CLUSTER_INCOMPLETE_OK: 'staging box' });
    expect(allowed.clusterIncompleteReason).toBe('staging box');
  });

  it('keeps one default for the per-shard deadline, shared with the router', () => {
    expect(loadConfig({}).shards.deadlineMs).toBe(DEFAULT_SHARD_DEADLINE_MS);
    expect(DEFAULT_SHARD_DEADLINE_MS).toBe(150);
  });
});

describe('request limits, rate limits and the production surface', () => {
  it('defaults open in single mode and closed in cluster mode', () => {
    const single = loadConfig({});
    expect(single.surface).toEqual({
      introspection: true,
      graphiql: true,
      fieldSuggestions: true,
      metricsToken: null,
    });
    expect(single.rateLimits).toMatchObject({
      exemptLoopback: true,
      trustForwardedFor: false,
      prefix: 'pf:rl:',
    });
    expect(single.corsAllowLoopback).toBe(true);
    const cluster = loadConfig(CLUSTER);
    expect(cluster.surface).toMatchObject({ introspection: false, graphiql: false, fieldSuggestions: false });
    expect(cluster.rateLimits.exemptLoopback).toBe(false);
    expect(cluster.corsAllowLoopback).toBe(false);
  });

  it('reads each setting into the shape the code uses', () => {
    const config = loadConfig({
      GRAPHQL_MAX_DEPTH: '8',
      MAX_JSON_BODY_BYTES: '2048',
      HTTP_HEADERS_TIMEOUT_MS: '1000',
      RATE_LIMIT_PER_KEY: '0',
      IMAGE_FETCHES_PER_CALLER: '3',
      CORS_ORIGINS: 'https://a.example, https://b.example',
      GRAPHIQL: 'false',
      METRICS_TOKEN: 'scrape',
      SHARD_AUTH_TOKEN: 'x'.repeat(32),
    });
    expect(config.requestLimits).toMatchObject({ maxDepth: 8, maxJsonBodyBytes: 2048, maxTokens: 2000 });
    expect(config.http.headersTimeoutMs).toBe(1000);
    expect(config.rateLimits).toMatchObject({ perKey: 0, fetchesPerCaller: 3, perAddress: 1200 });
    expect(config.corsOrigins).toEqual(['https://a.example', 'https://b.example']);
    expect(config.surface).toMatchObject({ graphiql: false, metricsToken: 'scrape' });
    expect(config.shards.authToken).toBe('x'.repeat(32));
  });

  it('refuses values below their floor and a short shard token, without echoing the token', () => {
    expect(() => loadConfig({ GRAPHQL_MAX_TOKENS: '10' })).toThrow(
      /GRAPHQL_MAX_TOKENS is "10"; expected an integer >= 100/,
    );
    expect(() => loadConfig({ HTTP_REQUEST_TIMEOUT_MS: 'soon' })).toThrow(/HTTP_REQUEST_TIMEOUT_MS/);
    expect(() => loadConfig({ RATE_LIMIT_EXEMPT_LOOPBACK: 'maybe' })).toThrow(/RATE_LIMIT_EXEMPT_LOOPBACK/);
    expect(() => loadConfig({ SHARD_AUTH_TOKEN: 'hunter2' })).toThrow(
      'config: SHARD_AUTH_TOKEN is set (value hidden, 7 characters); expected a shared secret of at least 32 characters',
    );
  });
});

describe('CLI configuration', () => {
  it('defaults to the local single node; flags win over the environment', () => {
    expect(loadCliConfig({})).toEqual({ url: 'http://127.0.0.1:4000', apiKey: null });
    const env = { PIXELFIND_URL: 'http://api.example:4000/', PIXELFIND_API_KEY: 'pf_env' };
    expect(loadCliConfig(env)).toEqual({ url: 'http://api.example:4000', apiKey: 'pf_env' });
    expect(loadCliConfig(env, { url: 'https://other.example', key: 'pf_flag' })).toEqual({
      url: 'https://other.example',
      apiKey: 'pf_flag',
    });
  });

  it('names the variable and its flag for a bad URL', () => {
    expect(() => loadCliConfig({ PIXELFIND_URL: 'not a url' })).toThrow(
      'config: PIXELFIND_URL (or --url) is "not a url"; expected a http:// or https:// URL',
    );
  });
});
