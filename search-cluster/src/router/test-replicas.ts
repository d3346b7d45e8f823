import { ClusterError } from '../errors.ts';
import type { ShardReplica } from './replica.ts';

// Replicas for tests and benchmarks of the router's availability.

/** A replica that is down: every call fails as an unreachable shard server would. */
export function downReplica(name: string): ShardReplica {
  const fail = async (): Promise<never> => {
    throw new ClusterError('SHARD_UNAVAILABLE', `${name} is down`);
  };
  return {
    name,
    search: fail,
    upsert: fail,
    delete: fail,
    rebuild: fail,
    addModelVersion: fail,
    dropModelVersion: fail,
    health: fail,
    stats: fail,
    close: async () => {},
  };
}
