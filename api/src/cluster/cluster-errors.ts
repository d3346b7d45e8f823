import { ClusterError } from '../../../search-cluster/src/index.ts';
import { AppError } from '../errors.ts';

/** The cluster's coded errors as the API's: no shard in time is a 503 the client may retry. */
export function clusterErrorToAppError(error: unknown): unknown {
  if (!(error instanceof ClusterError)) return error;
  switch (error.code) {
    case 'SHARD_UNAVAILABLE':
    case 'SHARD_NOT_READY':
    case 'CLOSED':
      return new AppError('SERVICE_UNAVAILABLE', 'The search cluster did not answer in time; try again');
    case 'BAD_REQUEST':
      return new AppError('BAD_USER_INPUT', error.message);
    default:
      return error;
  }
}
