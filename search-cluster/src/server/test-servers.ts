import { join } from 'node:path';
import { faissFactory } from '../shard/faiss-factory.ts';
import { Shard } from '../shard/shard.ts';
import { type ShardServer, startShardServer } from './server.ts';

/** Replica name and shard index of the test layout: shard 0 has two replicas, shard 1 one. */
export const TWO_SHARD_REPLICAS = [
  ['0a', 0],
  ['0b', 0],
  ['1a', 1],
] as const;

/**
 * Test set-up: one FAISS shard per replica of TWO_SHARD_REPLICAS (each in its own folder of
 * `dataDir`), started behind its HTTP server. Pushes into `into` as it goes, so the caller's
 * clean-up closes whatever started even when a later one fails.
 */
export async function startReplicaServers(options: {
  modelVersion: string;
  dimension: number;
  source: ConstructorParameters<typeof Shard>[0]['source'];
  dataDir: string;
  into: { shards: Shard[]; servers: ShardServer[] };
}): Promise<void> {
  for (const [name, index] of TWO_SHARD_REPLICAS) {
    const shard = new Shard({
      partition: { index, count: 2 },
      modelVersions: [{ name: options.modelVersion, dimension: options.dimension }],
      factory: faissFactory,
      source: options.source,
      dataDir: join(options.dataDir, name),
    });
    await shard.start();
    options.into.shards.push(shard);
    options.into.servers.push(await startShardServer({ shard }));
  }
}
