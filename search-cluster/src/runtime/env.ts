import { z } from 'zod';

/**
 * Environment variables as data: each process kind lists the variables it reads (a spec), one zod
 * object is built from the spec, and the same spec prints the README's configuration table.
 * Nothing outside a process's config module reads `process.env`.
 */

/** One variable: how to read it, what it means, what it defaults to (as shown to operators). */
export interface EnvVariable<T = unknown> {
  /** Applied to the raw value; an empty string counts as unset. */
  schema: z.ZodType<T, string | undefined>;
  /** What the value must look like, for the error line ("an integer from 1 to 65535"). */
  expected: string;
  /** The default as operators read it ("`4000`", "unset: embedded PGlite"). */
  default: string;
  /** One line for the configuration table. */
  doc: string;
  /** Secrets are never echoed back in an error line. */
  secret?: boolean;
}

export type EnvSpec = Record<string, EnvVariable>;
export type EnvValues<S extends EnvSpec> = { [K in keyof S]: S[K] extends EnvVariable<infer T> ? T : never };
export type EnvSource = Record<string, string | undefined>;

/** A variable the process cannot run with. */
export interface EnvIssue {
  name: string;
  value: string | undefined;
  expected: string;
  secret?: boolean;
}

/** Thrown by parseEnv and the config loaders; entry points print `lines()` and exit 2. */
export class ConfigError extends Error {
  readonly issues: EnvIssue[];
  constructor(issues: EnvIssue[]) {
    super(formatEnvIssues(issues));
    this.name = 'ConfigError';
    this.issues = issues;
  }
}

export const isConfigError = (error: unknown): error is ConfigError => error instanceof ConfigError;

/** Keeps the spec's literal keys and value types. */
export const defineEnv = <S extends EnvSpec>(spec: S): S => spec;

const blankToUndefined = (value: string | undefined) =>
  value === undefined || value === '' ? undefined : value;

/** Builds the variable's schema: unset or empty gives `fallback`, anything else goes through `read`. */
function variable<T>(
  read: (raw: string) => T | undefined,
  fallback: T,
  meta: Omit<EnvVariable<T>, 'schema'>,
): EnvVariable<T> {
  const schema = z
    .string()
    .optional()
    .transform((raw, ctx): T => {
      const value = blankToUndefined(raw);
      if (value === undefined) return fallback;
      const parsed = read(value);
      if (parsed === undefined) {
        ctx.addIssue({ code: 'custom', message: meta.expected });
        return z.NEVER;
      }
      return parsed;
    });
  return { schema, ...meta };
}

interface Meta {
  doc: string;
  /** Overrides the default as shown in the table. */
  defaultText?: string;
  secret?: boolean;
}

const show = <T>(value: T, text?: string) => text ?? (value === null ? 'unset' : `\`${String(value)}\``);

/** Builders for the kinds of value our variables hold. */
export const env = {
  int(options: Meta & { default: number; min?: number; max?: number }) {
    const { min = 0, max = Number.MAX_SAFE_INTEGER } = options;
    const expected =
      max === Number.MAX_SAFE_INTEGER ? `an integer >= ${min}` : `an integer from ${min} to ${max}`;
    return variable(
      (raw) => {
        if (!/^-?[0-9]+$/.test(raw.trim())) return undefined;
        const value = Number(raw);
        return Number.isSafeInteger(value) && value >= min && value <= max ? value : undefined;
      },
      options.default,
      { expected, default: show(options.default, options.defaultText), doc: options.doc },
    );
  },
  /** A positive integer or unset (null). */
  optionalInt(options: Meta & { min?: number; max?: number }) {
    const { min = 1, max = Number.MAX_SAFE_INTEGER } = options;
    return variable<number | null>(
      (raw) => {
        const value = Number(raw);
        return /^[0-9]+$/.test(raw.trim()) && value >= min && value <= max ? value : undefined;
      },
      null,
      {
        expected: `an integer from ${min} to ${max}`,
        default: show(null, options.defaultText),
        doc: options.doc,
      },
    );
  },
  number(options: Meta & { default: number; min: number; max: number }) {
    return variable(
      (raw) => {
        const value = Number(raw);
        return raw.trim() !== '' && Number.isFinite(value) && value >= options.min && value <= options.max
          ? value
          : undefined;
      },
      options.default,
      {
        expected: `a number from ${options.min} to ${options.max}`,
        default: show(options.default, options.defaultText),
        doc: options.doc,
      },
    );
  },
  /** true/false, 1/0, yes/no; unset gives null so the caller can pick a mode-dependent default. */
  bool(options: Meta) {
    return variable<boolean | null>(
      (raw) => {
        const lower = raw.toLowerCase();
        if (['1', 'true', 'yes'].includes(lower)) return true;
        if (['0', 'false', 'no'].includes(lower)) return false;
        return undefined;
      },
      null,
      { expected: 'true or false', default: show(null, options.defaultText), doc: options.doc },
    );
  },
  oneOf<const V extends string>(values: readonly V[], options: Meta & { default: V }) {
    return variable<V>((raw) => (values.includes(raw as V) ? (raw as V) : undefined), options.default, {
      expected: `one of ${values.join(', ')}`,
      default: show(options.default, options.defaultText),
      doc: options.doc,
    });
  },
  /** Free text; unset gives null. */
  string(options: Meta) {
    return variable<string | null>((raw) => raw, null, {
      expected: 'a string',
      default: show(null, options.defaultText),
      doc: options.doc,
      ...(options.secret ? { secret: true } : {}),
    });
  },
  /** A URL whose scheme is one of `protocols` (without the colon); unset gives null. */
  url(options: Meta & { protocols: readonly string[] }) {
    const expected = `a ${options.protocols.map((p) => `${p}://`).join(' or ')} URL`;
    return variable<string | null>(
      (raw) => {
        try {
          const url = new URL(raw);
          // no host is fine: postgres:///db?host=/run/postgresql is a Unix socket
          return options.protocols.includes(url.protocol.slice(0, -1)) ? raw : undefined;
        } catch {
          return undefined;
        }
      },
      null,
      { expected, default: show(null, options.defaultText), doc: options.doc },
    );
  },
  /** An http:// or https:// URL; unset gives null. */
  httpUrl(options: Meta) {
    return env.url({ ...options, protocols: ['http', 'https'] });
  },
  /** Any value `read` accepts (it returns undefined for a bad one). */
  custom<T>(read: (raw: string) => T | undefined, fallback: T, meta: Meta & { expected: string }) {
    return variable(read, fallback, {
      expected: meta.expected,
      default: show(fallback, meta.defaultText),
      doc: meta.doc,
      ...(meta.secret ? { secret: true } : {}),
    });
  },
};

/** The one zod object of a spec. */
export const schemaOf = <S extends EnvSpec>(spec: S) =>
  z.object(
    Object.fromEntries(Object.entries(spec).map(([name, v]) => [name, v.schema])) as {
      [K in keyof S]: S[K]['schema'];
    },
  );

/** Parses every variable of `spec`; throws one ConfigError naming every bad variable. */
export function parseEnv<S extends EnvSpec>(spec: S, source: EnvSource): EnvValues<S> {
  const input = Object.fromEntries(Object.keys(spec).map((name) => [name, source[name]]));
  const result = schemaOf(spec).safeParse(input);
  if (result.success) return result.data as EnvValues<S>;
  const seen = new Set<string>();
  const issues: EnvIssue[] = [];
  for (const issue of result.error.issues) {
    const name = String(issue.path[0]);
    if (seen.has(name)) continue;
    seen.add(name);
    const variable = spec[name]!;
    issues.push({
      name,
      value: source[name],
      expected: variable.expected,
      ...(variable.secret ? { secret: true } : {}),
    });
  }
  throw new ConfigError(issues);
}

// a connection string's password never reaches a log
const withoutPassword = (value: string) => value.replace(/(\/\/[^/:@]*:)[^/@]*@/, '$1***@');

/** One line per bad variable: its name, its value (secrets hidden) and what it must be. */
export function formatEnvIssues(issues: EnvIssue[]): string {
  return issues
    .map((issue) => {
      const value =
        issue.value === undefined
          ? 'is not set'
          : issue.secret
            ? `is set (value hidden, ${issue.value.length} characters)`
            : `is ${JSON.stringify(withoutPassword(issue.value))}`;
      return `config: ${issue.name} ${value}; expected ${issue.expected}`;
    })
    .join('\n');
}

/**
 * Runs a config loader at a process entry point: a ConfigError prints its lines on stderr and
 * exits with status 2 (no stack trace); any other error is rethrown.
 */
export function loadOrExit<T>(load: () => T, stderr: NodeJS.WritableStream = process.stderr): T {
  try {
    return load();
  } catch (error) {
    if (!isConfigError(error)) throw error;
    stderr.write(`${error.message}\n`);
    process.exit(2);
  }
}

/**
 * The configuration table of one process kind, as Markdown rows, columns padded the way the
 * Markdown formatter (`biome format`) pads them, so the generated README is already formatted.
 */
export function envTable(spec: EnvSpec): string {
  const escapeCell = (text: string) => text.replaceAll('|', '\\|');
  const header = ['variable', 'default', 'meaning'];
  const rows = Object.entries(spec).map(([name, v]) => [
    `\`${name}\``,
    escapeCell(v.default),
    escapeCell(v.doc),
  ]);
  const widths = header.map((title, column) =>
    Math.max(3, title.length, ...rows.map((row) => row[column]!.length)),
  );
  const line = (cells: string[]) =>
    `| ${cells.map((cell, column) => cell.padEnd(widths[column]!)).join(' | ')} |`;
  return [line(header), line(widths.map((width) => '-'.repeat(width))), ...rows.map(line)].join('\n');
}
