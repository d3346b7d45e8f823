import { z } from 'zod';

/**
 * The CLI's own variables, in one place so that they fold into the process config schema.
 * Flags win over the environment: --url over PIXELFIND_URL, --key over PIXELFIND_API_KEY.
 */
export const cliEnvSchema = z.object({
  /** Where the running server answers. Default the local single node, http://127.0.0.1:4000. */
  PIXELFIND_URL: z
    .url({ protocol: /^https?$/, error: 'Expected an http(s) URL such as http://127.0.0.1:4000' })
    .default('http://127.0.0.1:4000'),
  /** The API key the CLI sends (admin for `keys`). Default none. */
  PIXELFIND_API_KEY: z.string().trim().min(1).optional(),
});

export interface CliConfig {
  /** The server's base URL, without a trailing slash. */
  url: string;
  apiKey: string | null;
}

export class CliUsageError extends Error {
  readonly exitCode = 2;
}

/** Exit 1: the command was understood but did not succeed. */
export class CliFailure extends Error {
  readonly exitCode = 1;
}

export function loadCliConfig(
  env: Record<string, string | undefined>,
  flags: { url?: string; key?: string } = {},
): CliConfig {
  const parsed = cliEnvSchema.safeParse({
    PIXELFIND_URL: flags.url ?? (env.PIXELFIND_URL || undefined),
    PIXELFIND_API_KEY: flags.key ?? (env.PIXELFIND_API_KEY || undefined),
  });
  if (!parsed.success) {
    const lines = parsed.error.issues.map((issue) => {
      const name = String(issue.path[0]);
      const flag = name === 'PIXELFIND_URL' ? '--url' : '--key';
      return `${name} (or ${flag}): ${issue.message}`;
    });
    throw new CliUsageError(lines.join('\n'));
  }
  return {
    url: parsed.data.PIXELFIND_URL.replace(/\/+$/, ''),
    apiKey: parsed.data.PIXELFIND_API_KEY ?? null,
  };
}
