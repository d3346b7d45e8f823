import { Registry } from 'prom-client';
import { createJobMetrics, type Logger } from '../../../search-cluster/src/index.ts';
import type { Database } from '../db/database.ts';
import { createJobReporter } from './job-reporter.ts';
import { createJobsRepository } from './jobs.repository.ts';

/** A logger that keeps its lines, to check what was logged at which level. */
export function capturingLogger() {
  const lines: { level: 'info' | 'warn' | 'error'; message: string; fields?: Record<string, unknown> }[] = [];
  const log: Logger = {
    info: (message, fields) => lines.push({ level: 'info', message, ...(fields ? { fields } : {}) }),
    warn: (message, fields) => lines.push({ level: 'warn', message, ...(fields ? { fields } : {}) }),
    error: (message, fields) => lines.push({ level: 'error', message, ...(fields ? { fields } : {}) }),
  };
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
