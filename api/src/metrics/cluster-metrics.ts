import { Gauge, type Registry } from 'prom-client';
import type { ClusterClient } from '../cluster/cluster.client.ts';

const STATUSES = ['ok', 'loading', 'down', 'mismatch'] as const;

/**
 * `pixelfind_cluster_replicas{shard, status}`: the search cluster as this process's router sees
 * it at scrape time (one health probe per replica, bounded by the router's probe timeout). A
 * shard with no `ok` replica makes every search partial.
 */
export function registerClusterGauge(registry: Registry, cluster: Pick<ClusterClient, 'health'>): void {
  new Gauge({
    name: 'pixelfind_cluster_replicas',
    help: "Shard replicas by shard and status (ok, loading, down, mismatch) as this process's router sees them; no ok replica: searches answer partial.",
    labelNames: ['shard', 'status'] as const,
    registers: [registry],
    async collect() {
      this.reset();
      const health = await cluster.health().catch(() => null);
      for (const shard of health?.shards ?? []) {
        for (const status of STATUSES) {
          const n = shard.replicas.filter((r) => r.status === status).length;
          this.set({ shard: String(shard.index), status }, n);
        }
      }
    },
  });
}
