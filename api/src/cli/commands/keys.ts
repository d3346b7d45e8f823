import { createApiKeysRepository } from '../../auth/api-keys.repository.ts';
import { createApiKeysService } from '../../auth/api-keys.service.ts';
import { KEY_ROLES, type KeyRole } from '../../auth/roles.ts';
import { loadCliConfig, loadDatabaseConfig } from '../../config/config.ts';
import { createDatabase } from '../../db/create-database.ts';
import { DataDirLockedError, dataDirHolder } from '../../db/data-dir-lock.ts';
import { migrate } from '../../db/migrate.ts';
import { parseCommandArgs, SERVER_FLAGS } from '../command-args.ts';
import { CliFailure, CliUsageError } from '../errors.ts';
import { type CliIo, table } from '../io.ts';
import { createServerClient, ServerError, ServerUnreachable } from '../server-client.ts';

export const KEYS_USAGE = `usage:
  pixelfind keys create --role <${KEY_ROLES.join('|')}> --owner <user id> [--label <text>]
  pixelfind keys list [--all] [--json]
  pixelfind keys revoke <key id>
options: --url <server> (PIXELFIND_URL), --key <admin key> (PIXELFIND_API_KEY)
The key goes through the running server; only when none answers and none holds DATA_DIR does
the CLI open the database itself.`;

interface KeyView {
  id: string;
  prefix: string;
  role: KeyRole;
  ownerId: string;
  label: string | null;
  createdAt: string;
  revokedAt: string | null;
}

/** The three things `keys` does, over the server's admin GraphQL or over the database. */
interface KeysBackend {
  create(role: KeyRole, ownerId: string, label: string | null): Promise<{ key: string; apiKey: KeyView }>;
  list(includeRevoked: boolean): Promise<KeyView[]>;
  revoke(id: string): Promise<{ apiKey: KeyView; revoked: boolean }>;
  close(): Promise<void>;
}

const KEY_FIELDS = 'id prefix role ownerId label createdAt revokedAt';
const fromGraphQL = (key: Omit<KeyView, 'role'> & { role: string }): KeyView => ({
  ...key,
  role: key.role.toLowerCase() as KeyRole,
});

function serverBackend(url: string, apiKey: string | null): KeysBackend {
  const client = createServerClient(url, apiKey);
  return {
    async create(role, ownerId, label) {
      const data = await client.request<{ createApiKey: { key: string; apiKey: KeyView } }>(
        `mutation CliCreateApiKey($input: CreateApiKeyInput!) {
          createApiKey(input: $input) { key apiKey { ${KEY_FIELDS} } }
        }`,
        { input: { role: role.toUpperCase(), ownerId, label } },
      );
      return { key: data.createApiKey.key, apiKey: fromGraphQL(data.createApiKey.apiKey) };
    },
    async list(includeRevoked) {
      const data = await client.request<{ apiKeys: KeyView[] }>(
        `query CliApiKeys($includeRevoked: Boolean) { apiKeys(includeRevoked: $includeRevoked) { ${KEY_FIELDS} } }`,
        { includeRevoked },
      );
      return data.apiKeys.map(fromGraphQL);
    },
    async revoke(id) {
      const data = await client.request<{ revokeApiKey: { apiKey: KeyView; revoked: boolean } }>(
        `mutation CliRevokeApiKey($input: RevokeApiKeyInput!) {
          revokeApiKey(input: $input) { revoked apiKey { ${KEY_FIELDS} } }
        }`,
        { input: { id } },
      );
      return { ...data.revokeApiKey, apiKey: fromGraphQL(data.revokeApiKey.apiKey) };
    },
    async close() {},
  };
}

async function databaseBackend(io: CliIo, serverUrl: string): Promise<KeysBackend> {
  // a ConfigError (bad DATA_DIR, DATABASE_URL, ...) exits 2 naming the variable, see run.ts
  const config = loadDatabaseConfig(io.env);
  if (!config.databaseUrl) {
    const holder = await dataDirHolder(config.dataDir);
    if (holder) {
      throw new CliFailure(
        `No server answers at ${serverUrl}, but pid ${holder.pid} (${holder.purpose}) holds DATA_DIR ${config.dataDir}. ` +
          'Set PIXELFIND_URL (or --url) to the address that server listens on.',
      );
    }
  }
  io.err(
    `No server answers at ${serverUrl}: using the database directly (${config.databaseUrl ? 'DATABASE_URL' : `DATA_DIR ${config.dataDir}`}).`,
  );
  let db: Awaited<ReturnType<typeof createDatabase>>;
  try {
    db = await createDatabase({
      databaseUrl: config.databaseUrl,
      dataDir: config.dataDir,
      purpose: 'pixelfind keys',
    });
  } catch (error) {
    // a server started between our look and our open
    if (error instanceof DataDirLockedError) throw new CliFailure(error.message);
    throw error;
  }
  await migrate(db);
  const service = createApiKeysService(createApiKeysRepository(db));
  const view = (r: Awaited<ReturnType<typeof service.list>>[number]): KeyView => ({
    id: r.id,
    prefix: r.prefix,
    role: r.role,
    ownerId: r.owner_id,
    label: r.label,
    createdAt: r.created_at.toISOString(),
    revokedAt: r.revoked_at?.toISOString() ?? null,
  });
  return {
    async create(role, ownerId, label) {
      const created = await service.create(role, ownerId, label);
      return { key: created.key, apiKey: view(created.record) };
    },
    list: async (includeRevoked) => (await service.list({ includeRevoked })).map(view),
    async revoke(id) {
      const { record, revoked } = await service.revoke(id);
      return { apiKey: view(record), revoked };
    },
    close: () => db.close(),
  };
}

/** Runs fn against the server, or against the database when no server answers (see KEYS_USAGE). */
async function withBackend<T>(
  io: CliIo,
  flags: { url?: string; key?: string },
  fn: (backend: KeysBackend) => Promise<T>,
): Promise<T> {
  const cli = loadCliConfig(io.env, flags);
  try {
    return await fn(serverBackend(cli.url, cli.apiKey));
  } catch (error) {
    if (error instanceof ServerError && (error.code === 'UNAUTHENTICATED' || error.code === 'FORBIDDEN')) {
      throw new CliFailure(
        `${error.message}. Managing keys needs an admin key: set PIXELFIND_API_KEY or pass --key ` +
          '(a single node prints one at its first start).',
      );
    }
    if (!(error instanceof ServerUnreachable)) throw error;
  }
  const backend = await databaseBackend(io, cli.url);
  try {
    return await fn(backend);
  } finally {
    await backend.close();
  }
}

const OPTIONS = {
  ...SERVER_FLAGS,
  role: { type: 'string' },
  owner: { type: 'string' },
  label: { type: 'string' },
  id: { type: 'string' },
  all: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

export async function keysCommand(args: string[], io: CliIo): Promise<void> {
  const { positionals, values } = parseCommandArgs(args, OPTIONS, KEYS_USAGE);
  const [sub, ...rest] = positionals;
  if (values.help || sub === 'help') {
    io.out(KEYS_USAGE);
    return;
  }
  const flags = { url: values.url, key: values.key };

  if (sub === 'create') {
    const role = values.role as KeyRole | undefined;
    if (!role || !KEY_ROLES.includes(role))
      throw new CliUsageError(`Expected --role to be one of ${KEY_ROLES.join(', ')}\n${KEYS_USAGE}`);
    if (!values.owner?.trim()) throw new CliUsageError(`Expected --owner <user id>\n${KEYS_USAGE}`);
    if (rest.length > 0) throw new CliUsageError(`Unexpected argument ${rest[0]}\n${KEYS_USAGE}`);
    const { key, apiKey } = await withBackend(io, flags, (b) =>
      b.create(role, values.owner!, values.label ?? null),
    );
    io.err(`created ${apiKey.role} key ${apiKey.id} for ${apiKey.ownerId}; it is shown only now:`);
    // alone on its line, so that KEY=$(pixelfind keys create ...) works
    io.out(key);
    return;
  }
  if (sub === 'list') {
    if (rest.length > 0) throw new CliUsageError(`Unexpected argument ${rest[0]}\n${KEYS_USAGE}`);
    const keys = await withBackend(io, flags, (b) => b.list(values.all ?? false));
    if (values.json) {
      io.out(JSON.stringify(keys, null, 2));
      return;
    }
    const rows = keys.map((k) => [
      k.id,
      k.prefix,
      k.role,
      k.ownerId,
      k.createdAt,
      k.revokedAt ?? '-',
      k.label ?? '',
    ]);
    for (const line of table(['ID', 'PREFIX', 'ROLE', 'OWNER', 'CREATED', 'REVOKED', 'LABEL'], rows))
      io.out(line);
    return;
  }
  if (sub === 'revoke') {
    const id = values.id ?? rest[0];
    if (!id || rest.length > (values.id ? 0 : 1))
      throw new CliUsageError(`Expected one key id\n${KEYS_USAGE}`);
    const { apiKey, revoked } = await withBackend(io, flags, (b) => b.revoke(id));
    io.out(
      revoked ? `revoked key ${apiKey.id}` : `key ${apiKey.id} was already revoked at ${apiKey.revokedAt}`,
    );
    return;
  }
  throw new CliUsageError(sub ? `Unknown keys command ${sub}\n${KEYS_USAGE}` : KEYS_USAGE);
}
