import type { Logger } from '../../../search-cluster/src/index.ts';
import type { JobsRepository } from './jobs.repository.ts';

export type Exclusive<T> = { ran: true; value: T } | { ran: false; holder: string | null };

/**
 * Runs `body` while holding the Postgres lease `name` (table leases), renewed every third of
 * `seconds`; released when the body ends. Another process holding it, or (with a `slot`) a run
 * already taken for this slot, means `{ ran: false }`: the body is not called. A process that
 * dies holding it loses it after `seconds`.
 */
export async function runExclusive<T>(
  jobs: JobsRepository,
  lease: { name: string; owner: string; seconds: number; slot?: Date | null; log: Logger },
  body: () => Promise<T>,
): Promise<Exclusive<T>> {
  const { name, owner, seconds, log } = lease;
  if (!(await jobs.acquireLease(name, owner, seconds, lease.slot ?? null))) {
    return { ran: false, holder: (await jobs.leaseHolder(name))?.owner ?? null };
  }
  const renew = setInterval(
    () => {
      jobs.renewLease(name, owner, seconds).then(
        (held) => {
          if (!held)
            log.error('lease lost while running; another process may start the job', { lease: name });
        },
        (error) => log.warn('lease renewal failed', { lease: name, error: String(error) }),
      );
    },
    Math.max(100, (seconds * 1000) / 3),
  );
  renew.unref();
  try {
    return { ran: true, value: await body() };
  } finally {
    clearInterval(renew);
    await jobs.releaseLease(name, owner).catch((error) => {
      log.warn('lease release failed; it expires on its own', { lease: name, error: String(error) });
    });
  }
}
