import { Cron } from 'croner';
import { defineEnv, env } from '../../../search-cluster/src/index.ts';

// The background-job settings of the API process (part of variables.ts's set, kept apart by domain).

/** A cron expression (croner: 5 or 6 fields, UTC), or `off`: null. */
const cronSetting = (raw: string): string | null | undefined => {
  if (raw.trim().toLowerCase() === 'off') return null;
  try {
    new Cron(raw.trim(), { paused: true });
    return raw.trim();
  } catch {
    return undefined;
  }
};
const CRON_EXPECTED = 'a cron expression (5 or 6 fields, UTC) or off';

/** Background jobs the API process schedules (docs/operations.md, "Jobs"); one process runs each slot. */
export const jobVariables = defineEnv({
  REBUILD_SCHEDULE: env.custom(cronSetting, '0 3 * * *' as string | null, {
    expected: CRON_EXPECTED,
    doc: 'when every main tier is rebuilt from the record, one shard replica at a time (`off`: never)',
  }),
  REBUILD_CHECK_SCHEDULE: env.custom(cronSetting, '*/5 * * * *' as string | null, {
    expected: CRON_EXPECTED,
    doc: 'when replicas past `REBUILD_HOT_VECTORS` or `REBUILD_TOMBSTONE_RATIO` are rebuilt (`off`: in-process shards rebuild themselves)',
  }),
  REBUILD_HOT_VECTORS: env.int({
    default: 100_000,
    min: 0,
    doc: 'a replica whose hot tier holds this many vectors is due for a rebuild (0: never)',
  }),
  REBUILD_TOMBSTONE_RATIO: env.number({
    default: 0.1,
    min: 0,
    max: 1,
    doc: 'a replica whose main tier holds more than this share of tombstones is due (0: never)',
  }),
  RECALL_CANARY_SCHEDULE: env.custom(cronSetting, '*/30 * * * *' as string | null, {
    expected: CRON_EXPECTED,
    doc: 'when the recall canary measures recall@10 of the serving path against exact search',
  }),
  RECALL_CANARY_QUERIES: env.int({
    default: 50,
    min: 1,
    max: 1000,
    doc: 'queries per kind (text, image) the recall canary samples',
  }),
  DRIFT_SCHEDULE: env.custom(cronSetting, '*/15 * * * *' as string | null, {
    expected: CRON_EXPECTED,
    doc: 'when the mean-embedding shift of new uploads against the reference is measured',
  }),
  DRIFT_WINDOW_HOURS: env.int({
    default: 24,
    min: 1,
    max: 24 * 90,
    doc: 'uploads of the last this many hours form the window compared with the reference',
  }),
});
