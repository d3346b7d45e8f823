import { PATHS } from '../protocol/client.ts';
import { createProcessMetrics, type ProcessMetrics } from '../runtime/metrics.ts';
import { registerShardMetrics, type ShardMetrics } from '../shard/shard-metrics.ts';

/** The shard server's registry: default and HTTP metrics, and its shard's `pixelfind_shard_*` series. */
export interface ShardServerMetrics extends ProcessMetrics {
  shards: ShardMetrics;
}

export function createShardServerMetrics(): ShardServerMetrics {
  const process = createProcessMetrics({ routes: { exact: Object.values(PATHS) } });
  return { ...process, shards: registerShardMetrics(process.registry) };
}
