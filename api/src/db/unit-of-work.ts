import type { Database, Queryable } from './database.ts';

/**
 * Runs `work` in one transaction, handing it repositories bound to that transaction. A service
 * receives this (from the composition root) instead of the database and the repository
 * constructors: what it writes together commits together, and it never names an adapter.
 */
export type InTransaction<R> = <T>(work: (repositories: R) => Promise<T>) => Promise<T>;

/** The InTransaction over `db` with the repositories `bind` makes for each transaction. */
export function inTransaction<R>(db: Database, bind: (tx: Queryable) => R): InTransaction<R> {
  return (work) => db.transaction((tx) => work(bind(tx)));
}
