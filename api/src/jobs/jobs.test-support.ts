import { Registry } from 'prom-client';
import {
  componentLogger,
  createJobMetrics,
  createLogger,
  type Logger,
} from '../../../search-cluster/src/index.ts';
import type { Database } from '../db/database.ts';
import { createJobReporter } from './job-reporter.ts';
import { createJobsRepository } from './jobs.repository.ts';

/** A logger that keeps its lines, to check what was logged at which level. */
export function capturingLogger() {
  const lines: { level: string; message: string; fields: Record<string, unknown> }[] = [];
  const root = createLogger({
    level: 'info',
    pretty: false,
    destination: {
      write(line: string) {
        const { level, msg, ...fields } = JSON.parse(line) as Record<string, unknown>;
        lines.push({ level: String(level), message: String(msg), fields });
      },
    },
  });
  const log: Logger = componentLogger(root, 'jobs');
  return { log, lines };
}

/** What one process's jobs see: its repository, a reporter under `owner`, its own registry and log. */
export function jobsOf(db: Database, owner: string) {
  const registry = new Registry();
  const { log, lines } = capturingLogger();
  const jobs = createJobsRepository(db);
  const reporter = createJobReporter({ jobs, metrics: createJobMetrics(registry), log, owner });
  return { jobs, reporter, registry, log, lines };
}

/** The value of one series in a registry, or undefined. */
export async function metricValue(
  registry: Registry,
  name: string,
  labels: Record<string, string>,
): Promise<number | undefined> {
  const metric = registry.getSingleMetric(name);
  if (!metric) return undefined;
  const { values } = await metric.get();
  return values.find((v) => Object.entries(labels).every(([k, l]) => v.labels[k] === l))?.value;
}
