import type { ShardReplica } from './replica.ts';
import type { ReplicaHealth, RouterHealth, RouterStats } from './router.types.ts';
import { describeError } from './shard-answers.ts';

/** The replicas of each shard, in shard order, as the router holds them. */
type Shards = readonly (readonly { replica: ShardReplica }[])[];

/**
 * Every replica's health probe, each bounded by `timeoutMs`. A replica that serves another
 * partition than its place in the router is a 'mismatch', never counted as serving; the cluster is
 * 'down' when a shard has no serving replica, 'degraded' when some replica is not serving.
 */
export async function clusterHealth(shards: Shards, timeoutMs: number): Promise<RouterHealth> {
  const answers = await Promise.all(
    shards.map(async (states, index) => {
      const replicas = await Promise.all(
        states.map(async ({ replica }): Promise<ReplicaHealth> => {
          try {
            const health = await replica.health(AbortSignal.timeout(timeoutMs));
            if (health.partition.index !== index || health.partition.count !== shards.length) {
              return {
                name: replica.name,
                status: 'mismatch',
                error: `replica serves shard ${health.partition.index}/${health.partition.count}, router expects ${index}/${shards.length}`,
                health,
              };
            }
            return { name: replica.name, status: health.status === 'ok' ? 'ok' : 'loading', health };
          } catch (error) {
            return { name: replica.name, status: 'down', error: describeError(error) };
          }
        }),
      );
      return { index, serving: replicas.filter((r) => r.status === 'ok').length, replicas };
    }),
  );
  const status = answers.some((s) => s.serving === 0)
    ? 'down'
    : answers.every((s) => s.serving === s.replicas.length)
      ? 'ok'
      : 'degraded';
  return { status, shards: answers };
}

/** Every replica's stats, each bounded by `timeoutMs`; a replica that does not answer gives its error. */
export async function clusterStats(shards: Shards, timeoutMs: number): Promise<RouterStats> {
  const answers = await Promise.all(
    shards.map(async (states, index) => ({
      index,
      replicas: await Promise.all(
        states.map(async ({ replica }) => {
          try {
            return { name: replica.name, stats: await replica.stats(AbortSignal.timeout(timeoutMs)) };
          } catch (error) {
            return { name: replica.name, error: describeError(error) };
          }
        }),
      ),
    })),
  );
  return { shards: answers };
}
