import {
  loadConfig,
  loadDatabaseConfig,
  loadDownloadConfig,
  loadWorkerConfig,
  processVariables,
} from '../../api/src/config/config.ts';
import { loadShardServerConfig, shardServerVariables } from '../../search-cluster/src/server/config.ts';

/**
 * What each role of the image (its first argument: infra/container/entrypoint.sh) reads, and the
 * loader that parses it: the check that a deployment file's environment means something.
 */
export const ROLES: Record<
  string,
  { variables: Record<string, unknown>; load: (env: Record<string, string>) => unknown }
> = {
  api: { variables: processVariables.api, load: loadConfig },
  worker: { variables: processVariables.worker, load: loadWorkerConfig },
  migrate: { variables: processVariables.database, load: loadDatabaseConfig },
  'model-download': { variables: processVariables.download, load: loadDownloadConfig },
  'shard-server': { variables: shardServerVariables, load: loadShardServerConfig },
};

/** The environment the Dockerfile sets for every role (`ENV DATA_DIR=/data HOST=0.0.0.0`). */
export const IMAGE_ENV: Record<string, string> = { DATA_DIR: '/data', HOST: '0.0.0.0' };

/** Variable names `env` sets that `role` does not read (the image's own ENV aside). */
export function unknownVariables(role: string, env: Record<string, string>): string[] {
  const known = ROLES[role]!.variables;
  return Object.keys(env).filter((name) => !(name in known) && !(name in IMAGE_ENV));
}
