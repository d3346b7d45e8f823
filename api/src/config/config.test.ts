import { describe, expect, it } from 'vitest';
import { loadConfig } from './config.ts';

describe('configuration', () => {
  it('single node on loopback lets anonymous callers upload; other addresses and cluster mode do not', () => {
    expect(loadConfig({}).allowAnonymousUploads).toBe(true);
    expect(loadConfig({ HOST: '0.0.0.0' }).allowAnonymousUploads).toBe(false);
    expect(loadConfig({ PIXELFIND_MODE: 'cluster' }).allowAnonymousUploads).toBe(false);
    expect(
      loadConfig({ PIXELFIND_MODE: 'cluster', ALLOW_ANONYMOUS_UPLOADS: 'true' }).allowAnonymousUploads,
    ).toBe(true);
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
    expect(loadConfig({ PIXELFIND_MODE: 'cluster' }).inProcessWorker).toBe(false);
  });

  it('refuses settings it cannot read, naming them', () => {
    expect(() => loadConfig({ PORT: 'eighty' })).toThrow(/PORT/);
    expect(() => loadConfig({ PIXELFIND_MODE: 'multi' })).toThrow(/PIXELFIND_MODE/);
    expect(() => loadConfig({ SEARCH_TOP_K: '50' })).toThrow(/SEARCH_TOP_K between 100 and 500/);
    expect(() => loadConfig({ SAFETY_THRESHOLD: '2' })).toThrow(/SAFETY_THRESHOLD/);
  });
});
