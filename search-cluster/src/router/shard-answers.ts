import { ClusterError, isClusterError } from '../errors.ts';
import type { Hit } from '../shard/topk.ts';
import { CLIENT_ERRORS, type ShardAnswer } from './hedged-search.ts';

// What the router makes of its shards' answers: the error rules of a fan-out, and error text.

/**
 * The answers that carry results. Throws when one says the request is wrong (the caller's mistake
 * is the same on every shard: reported rather than a partial answer), or when no shard answered.
 */
export function checkAnswers(
  answers: readonly ShardAnswer[],
  deadlineMs: number,
  signal: AbortSignal | undefined,
): { ok: true; results: Hit[][] }[] {
  const failures = answers.filter((a): a is { ok: false; error: unknown } => !a.ok);
  const clientError = failures.find((f) => isClusterError(f.error) && CLIENT_ERRORS.has(f.error.code));
  if (clientError) throw clientError.error;
  signal?.throwIfAborted();
  if (failures.length === answers.length) {
    const unknown = failures.every(
      (f) => isClusterError(f.error) && f.error.code === 'UNKNOWN_MODEL_VERSION',
    );
    if (unknown) throw failures[0]!.error;
    throw new ClusterError(
      'SHARD_UNAVAILABLE',
      `No shard answered within ${deadlineMs} ms: ${describeError(failures[0]!.error)}`,
    );
  }
  return answers.filter((a): a is { ok: true; results: Hit[][] } => a.ok);
}

export function describeError(error: unknown): string {
  if (error instanceof Error) return error.name === 'TimeoutError' ? 'timed out' : error.message;
  return String(error);
}
