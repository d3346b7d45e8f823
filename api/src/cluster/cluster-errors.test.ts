import { describe, expect, it } from 'vitest';
import { ClusterError } from '../../../search-cluster/src/index.ts';
import { clusterErrorToAppError } from './cluster-errors.ts';

const codeOf = (error: unknown) => (error as { extensions?: { code?: string } }).extensions?.code;

describe('search cluster errors at the API', () => {
  it('turns "no shard answered" into a retryable SERVICE_UNAVAILABLE, not a masked 500', () => {
    expect(codeOf(clusterErrorToAppError(new ClusterError('SHARD_UNAVAILABLE', 'shard 1: no replica')))).toBe(
      'SERVICE_UNAVAILABLE',
    );
    expect(codeOf(clusterErrorToAppError(new ClusterError('SHARD_NOT_READY', 'loading')))).toBe(
      'SERVICE_UNAVAILABLE',
    );
  });

  it('passes a bad request on as BAD_USER_INPUT and leaves other errors alone', () => {
    expect(codeOf(clusterErrorToAppError(new ClusterError('BAD_REQUEST', 'k must be positive')))).toBe(
      'BAD_USER_INPUT',
    );
    const other = new Error('boom');
    expect(clusterErrorToAppError(other)).toBe(other);
  });
});
