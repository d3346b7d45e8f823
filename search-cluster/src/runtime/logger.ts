import { pino } from 'pino';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** The process logger (pino); components take children of it. */
export type RootLogger = pino.Logger;

/**
 * The logger components are handed: message first, fields second (the shape search-cluster's
 * shards always used), backed by a pino child carrying `component`.
 */
export interface Logger {
  debug(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
  /** A logger whose lines also carry `bindings`. */
  child(bindings: Record<string, unknown>): Logger;
  /** The pino logger underneath (access logs, libraries that take pino). */
  readonly pino: pino.Logger;
}

/** What a component that only writes lines needs (easy to fake in a test). */
export type LogSink = Pick<Logger, 'info' | 'warn' | 'error'>;

export interface LoggerOptions {
  /** Default 'info'. */
  level?: LogLevel;
  /** Human-friendly lines (pino-pretty). Default: when stdout is a terminal. */
  pretty?: boolean;
  /** Where lines go. Default: stdout (pretty: through pino-pretty to stdout). */
  destination?: pino.DestinationStream;
  /** Fields on every line (e.g. the process kind). */
  base?: Record<string, unknown>;
}

// bigint ids (shard code) would make JSON.stringify throw
const bigintSafe = (value: unknown): unknown => (typeof value === 'bigint' ? value.toString() : value);

/** The root logger of one process: JSON lines, or pino-pretty on a terminal. */
export function createLogger(options: LoggerOptions = {}): RootLogger {
  const pretty = options.pretty ?? (process.stdout.isTTY === true && !options.destination);
  const config: pino.LoggerOptions = {
    level: options.level ?? 'info',
    base: { pid: process.pid, ...options.base },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: {
      level: (label) => ({ level: label }),
      log: (object) =>
        Object.fromEntries(Object.entries(object).map(([key, value]) => [key, bigintSafe(value)])),
    },
    serializers: { error: pino.stdSerializers.err, err: pino.stdSerializers.err },
  };
  if (pretty && !options.destination) {
    return pino({
      ...config,
      transport: { target: 'pino-pretty', options: { colorize: true, ignore: 'pid,hostname' } },
    });
  }
  // stdout written asynchronously: a synchronous write to a pipe nobody drains blocks the event
  // loop (sonic-boom waits on a futex for EAGAIN); pino flushes what is left at exit
  return pino(config, options.destination ?? pino.destination({ dest: 1, sync: false }));
}

/** Wraps a pino logger into the message-first Logger. */
export function wrapLogger(base: pino.Logger): Logger {
  const call =
    (level: 'debug' | 'info' | 'warn' | 'error') => (message: string, fields?: Record<string, unknown>) => {
      if (fields) base[level](fields, message);
      else base[level](message);
    };
  return {
    debug: call('debug'),
    info: call('info'),
    warn: call('warn'),
    error: call('error'),
    child: (bindings) => wrapLogger(base.child(bindings)),
    pino: base,
  };
}

/** The child logger of one component (api, worker, encoder, router, shard, shard-server, ...). */
export const componentLogger = (root: RootLogger, component: string, more: Record<string, unknown> = {}) =>
  wrapLogger(root.child({ component, ...more }));

/** A logger that drops everything (tests of unrelated behaviour). */
export const silentLogger: Logger = wrapLogger(pino({ level: 'silent' }));
