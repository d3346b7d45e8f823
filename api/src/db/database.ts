/** A row-returning SQL result, the same shape whichever engine ran it. */
export interface QueryResult<Row> {
  rows: Row[];
  rowCount: number;
}

export interface QueryOptions {
  /**
   * Prepare the statement under this name, once per connection, and reuse its plan: for a hot
   * statement whose planning costs more than its execution (the search's page statement). The
   * name must always go with the same SQL. pg only; PGlite runs it as any other statement.
   */
  prepareAs?: string;
}

/** What repositories see: one SQL dialect (Postgres), two engines (pg, PGlite). */
export interface Queryable {
  query<Row = Record<string, unknown>>(
    sql: string,
    params?: unknown[],
    options?: QueryOptions,
  ): Promise<QueryResult<Row>>;
}

/** Inside a transaction: statements, and whole scripts (a migration file) on the same connection. */
export interface Transaction extends Queryable {
  /** Runs a script of several statements without parameters, inside the transaction. */
  exec(sql: string): Promise<void>;
}

export interface Database extends Queryable {
  /** 'postgres' or 'pglite': for logs and tests only, never for branching SQL. */
  readonly engine: 'postgres' | 'pglite';
  /** Runs fn inside BEGIN/COMMIT; a throw rolls back. */
  transaction<T>(fn: (tx: Transaction) => Promise<T>): Promise<T>;
  /** Runs a script of several statements without parameters (migrations). */
  exec(sql: string): Promise<void>;
  /** Statements sent since start; tests use it to pin batching. */
  readonly statementCount: number;
  close(): Promise<void>;
}

/** bytea comes back as Buffer from pg and Uint8Array from PGlite. */
export function toBuffer(value: unknown): Buffer {
  if (Buffer.isBuffer(value)) return value;
  if (value instanceof Uint8Array) return Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  throw new TypeError(`Expected bytea but received ${typeof value}`);
}
