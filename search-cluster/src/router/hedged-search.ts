import { ClusterError, isClusterError } from '../errors.ts';
import type { ShardSearchRequest } from '../shard/shard.ts';
import type { Hit } from '../shard/topk.ts';
import type { ReplicaSet } from './replica-choice.ts';

// Hedged requests: one shard's search within a fan-out, against the replica chosen first and a
// second one when the first fails or is slow.

/** Codes that mean the request itself is wrong: another replica would refuse it too. */
export const CLIENT_ERRORS = new Set(['BAD_REQUEST']);

export type ShardAnswer = { ok: true; results: Hit[][] } | { ok: false; error: unknown };

export const FAN_OUT_DONE = new ClusterError('SHARD_UNAVAILABLE', 'The search finished without this answer');

/** State shared by the shards of one search fan-out. */
export interface FanOut {
  /** Aborted at the deadline, on the caller's signal, or once every shard answered. */
  controller: AbortController;
  /** Callbacks of shards still waiting, run when the deadline passes. */
  expired: Set<() => void>;
  deadlineMs: number;
}

/**
 * One shard's part of a fan-out: the first replica, a hedge to the next one on failure or after
 * `hedgeAfterMs`, and a failure answer when the fan-out's deadline passes first.
 */
export function searchShard(
  replicas: ReplicaSet,
  s: number,
  request: ShardSearchRequest,
  fanOut: FanOut,
  hedgeAfterMs: number | undefined,
): Promise<ShardAnswer> {
  const order = replicas.order();
  const attempts = Math.min(2, order.length);
  const signal = fanOut.controller.signal;
  const hedgeAfter = hedgeAfterMs ?? Math.max(1, Math.floor(fanOut.deadlineMs / 3));

  return new Promise<ShardAnswer>((resolve) => {
    let launched = 0;
    let failed = 0;
    let lastError: unknown = null;
    let settled = false;
    let hedgeTimer: NodeJS.Timeout | null = null;

    const finish = (answer: ShardAnswer) => {
      if (settled) return;
      settled = true;
      if (hedgeTimer) clearTimeout(hedgeTimer);
      fanOut.expired.delete(onExpired);
      resolve(answer);
    };
    const onExpired = () => {
      // replicas that never answered count as failing, so the next query tries another first
      for (let i = 0; i < launched; i++) replicas.markFailed(order[i]!);
      finish({
        ok: false,
        error:
          lastError ??
          new ClusterError('SHARD_UNAVAILABLE', `Shard ${s} missed its ${fanOut.deadlineMs} ms deadline`),
      });
    };
    const launch = () => {
      if (settled || launched >= attempts) return;
      const state = order[launched++]!;
      state.replica.search(request, signal).then(
        (results) => {
          replicas.markHealthy(state);
          finish({ ok: true, results });
        },
        (error: unknown) => {
          if (settled) return;
          lastError = error;
          if (isClusterError(error) && CLIENT_ERRORS.has(error.code)) {
            finish({ ok: false, error });
            return;
          }
          replicas.markFailed(state);
          failed++;
          // a failure is the hedge's cue: do not wait for the timer
          if (launched < attempts) launch();
          else if (failed === launched) finish({ ok: false, error });
        },
      );
    };

    if (signal.aborted) {
      finish({ ok: false, error: signal.reason });
      return;
    }
    fanOut.expired.add(onExpired);
    launch();
    if (attempts > 1 && !settled) hedgeTimer = setTimeout(launch, hedgeAfter);
  });
}

/** The searches of one router call: every round of a cluster search shares its deadline. */
export interface FanOutSession {
  /** Sends `requests[s]` to shard s (none where null); answers in shard order, undefined where nothing was asked. */
  run(requests: readonly (ShardSearchRequest | null)[]): Promise<(ShardAnswer | undefined)[]>;
  /** Cancels hedged requests that lost their race and stops the deadline timer. */
  close(): void;
}

/**
 * One timer and one AbortController for a whole search (per-shard AbortSignal.timeout and
 * AbortSignal.any cost tens of microseconds each, more than a small shard's search): each shard
 * asked gets one replica with a hedge; a shard still waiting at `deadlineMs` answers with a failure.
 */
export function openFanOut(
  replicas: readonly ReplicaSet[],
  deadlineMs: number,
  outer: AbortSignal | undefined,
  hedgeAfterMs: number | undefined,
): FanOutSession {
  const fanOut: FanOut = { controller: new AbortController(), expired: new Set(), deadlineMs };
  const expire = () => {
    for (const onExpired of [...fanOut.expired]) onExpired();
    fanOut.controller.abort(
      new ClusterError('SHARD_UNAVAILABLE', `Search deadline of ${deadlineMs} ms passed`),
    );
  };
  const timer = setTimeout(expire, deadlineMs);
  outer?.addEventListener('abort', expire, { once: true });
  return {
    run: (requests) =>
      Promise.all(
        requests.map((request, s) =>
          request ? searchShard(replicas[s]!, s, request, fanOut, hedgeAfterMs) : undefined,
        ),
      ),
    close: () => {
      clearTimeout(timer);
      outer?.removeEventListener('abort', expire);
      // a shared reason: a fresh DOMException per search costs more than the search
      fanOut.controller.abort(FAN_OUT_DONE);
    },
  };
}
