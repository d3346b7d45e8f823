import { parseArgs } from 'node:util';
import { loadOrExit } from '../../../search-cluster/src/index.ts';
import { createApiKeysRepository } from '../auth/api-keys.repository.ts';
import { createApiKeysService } from '../auth/api-keys.service.ts';
import { KEY_ROLES, type KeyRole } from '../auth/roles.ts';
import { loadCliConfig } from '../config/config.ts';
import { createDatabase } from '../db/create-database.ts';
import { migrate } from '../db/migrate.ts';

const USAGE = `usage:
  npm run keys -- create --role <${KEY_ROLES.join('|')}> --owner <user id> [--label <text>]
  npm run keys -- revoke --id <key id>`;

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: {
    role: { type: 'string' },
    owner: { type: 'string' },
    label: { type: 'string' },
    id: { type: 'string' },
  },
});

const config = loadOrExit(() => loadCliConfig(process.env));
const db = await createDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir });
try {
  await migrate(db);
  const keys = createApiKeysService(createApiKeysRepository(db));
  const command = positionals[0];
  if (command === 'create') {
    const role = values.role as KeyRole | undefined;
    if (!role || !KEY_ROLES.includes(role) || !values.owner) {
      console.error(USAGE);
      process.exitCode = 2;
    } else {
      const created = await keys.create(role, values.owner, values.label ?? null);
      console.log(
        `created ${created.role} key ${created.id} for ${created.ownerId} (shown only now):\n${created.key}`,
      );
    }
  } else if (command === 'revoke' && values.id) {
    const revoked = await createApiKeysRepository(db).revoke(values.id);
    console.log(revoked ? `revoked key ${values.id}` : `no active key ${values.id}`);
    if (!revoked) process.exitCode = 1;
  } else {
    console.error(USAGE);
    process.exitCode = 2;
  }
} finally {
  await db.close();
}
