import type { ShardReplica } from './replica.ts';

/** What the router remembers of one replica: how often it failed lately, and until when to avoid it. */
export class ReplicaState {
  failures = 0;
  downUntil = 0;
  constructor(readonly replica: ShardReplica) {}
}

/**
 * The replicas of one shard and which to try first: healthy ones round-robin, then those backing
 * off. A failing replica is tried last for `backoffMs`, doubling per failure up to 30 s.
 */
export class ReplicaSet {
  readonly states: ReplicaState[];
  private cursor = 0;

  constructor(
    replicas: ShardReplica[],
    private readonly backoffMs: number,
  ) {
    this.states = replicas.map((r) => new ReplicaState(r));
  }

  /** Replicas in the order to try: healthy ones round-robin, then the backed-off ones. */
  order(): ReplicaState[] {
    const replicas = this.states;
    const start = this.cursor++ % replicas.length;
    const rotated = [...replicas.slice(start), ...replicas.slice(0, start)];
    const now = Date.now();
    return [...rotated.filter((r) => r.downUntil <= now), ...rotated.filter((r) => r.downUntil > now)];
  }

  markHealthy(state: ReplicaState): void {
    state.failures = 0;
    state.downUntil = 0;
  }

  markFailed(state: ReplicaState): void {
    state.failures++;
    state.downUntil = Date.now() + Math.min(30_000, this.backoffMs * 2 ** (state.failures - 1));
  }
}
