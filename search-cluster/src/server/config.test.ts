import { describe, expect, it } from 'vitest';
import { ConfigError } from '../runtime/env.ts';
import { loadShardServerConfig, shardTierOptions } from './config.ts';

describe('shard server SELF_REBUILD', () => {
  it('keeps threshold rebuilds on by default', () => {
    const config = loadShardServerConfig({});
    expect(config.selfRebuild).toBe(true);
    expect(shardTierOptions(config)).toEqual({ mainTier: 'auto' });
  });

  it('false leaves threshold rebuilds to the API: both thresholds off', () => {
    const config = loadShardServerConfig({ SELF_REBUILD: 'false', MAIN_TIER: 'hnsw' });
    expect(shardTierOptions(config)).toEqual({
      mainTier: 'hnsw',
      autoRebuildHotVectors: 0,
      autoRebuildTombstoneRatio: 0,
    });
  });

  it('refuses a value that is not a boolean, naming the variable', () => {
    expect(() => loadShardServerConfig({ SELF_REBUILD: 'sometimes' })).toThrow(ConfigError);
    expect(() => loadShardServerConfig({ SELF_REBUILD: 'sometimes' })).toThrow(/SELF_REBUILD/);
  });
});
