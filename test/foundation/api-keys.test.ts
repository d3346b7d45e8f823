import { describe, expect, it } from 'vitest';
import { backends } from '../support/backends.ts';
import { keyFor } from '../support/keys.ts';
import type { TestApp } from '../support/test-app.ts';
import { useTestApps } from '../support/use-test-apps.ts';

const CREATE = `mutation Create($input: CreateApiKeyInput!) {
  createApiKey(input: $input) { key apiKey { id prefix role ownerId label createdAt revokedAt } }
}`;
const LIST = `query List($all: Boolean) { apiKeys(includeRevoked: $all) { id role ownerId revokedAt } }`;
const REVOKE = `mutation Revoke($id: ID!) { revokeApiKey(input: { id: $id }) { revoked apiKey { id revokedAt } } }`;

describe.each(backends)('admin GraphQL for API keys ($name)', ({ create }) => {
  let t: TestApp;
  let admin: Record<string, string>;

  useTestApps(create, async (open) => {
    t = await open({ ALLOW_ANONYMOUS_UPLOADS: 'false' });
    admin = await keyFor(t, 'admin', 'root');
  });

  it('creates a key that works on the very next request, shown once with its metadata', async () => {
    const created = await t.gql<{ createApiKey: { key: string; apiKey: Record<string, unknown> } }>(
      CREATE,
      { input: { role: 'USER', ownerId: ' ann ', label: 'laptop' } },
      admin,
    );
    expect(created.body.errors).toBeUndefined();
    const { key, apiKey } = created.body.data!.createApiKey;
    expect(key).toMatch(/^pf_user_/);
    expect(apiKey).toMatchObject({ role: 'USER', ownerId: 'ann', label: 'laptop', revokedAt: null });
    expect(key.startsWith(String(apiKey.prefix))).toBe(true);

    // an unknown or revoked key answers 401; this one is known at once
    const asAnn = await t.gql('{ __typename }', {}, { authorization: `Bearer ${key}` });
    expect(asAnn.status).toBe(200);
    const listed = await t.gql<{ apiKeys: { id: string }[] }>(LIST, {}, admin);
    expect(listed.body.data!.apiKeys.map((k) => k.id)).toContain(apiKey.id);
  });

  it('revokes a key so that it stops working at once, and says so when asked again', async () => {
    const { key, id } = await t.services.apiKeys.create('user', 'bob');
    const headers = { authorization: `Bearer ${key}` };
    expect((await t.gql('{ __typename }', {}, headers)).status).toBe(200); // now cached

    const revoked = await t.gql<{ revokeApiKey: { revoked: boolean; apiKey: { revokedAt: string | null } } }>(
      REVOKE,
      { id },
      admin,
    );
    expect(revoked.body.data!.revokeApiKey.revoked).toBe(true);
    expect(revoked.body.data!.revokeApiKey.apiKey.revokedAt).not.toBeNull();
    const after = await t.gql('{ __typename }', {}, headers);
    expect(after.status).toBe(401);
    expect(after.body.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');

    const again = await t.gql<{ revokeApiKey: { revoked: boolean } }>(REVOKE, { id }, admin);
    expect(again.body.data!.revokeApiKey.revoked).toBe(false);
    const listed = await t.gql<{ apiKeys: { id: string }[] }>(LIST, {}, admin);
    expect(listed.body.data!.apiKeys.map((k) => k.id)).not.toContain(id);
    const all = await t.gql<{ apiKeys: { id: string }[] }>(LIST, { all: true }, admin);
    expect(all.body.data!.apiKeys.map((k) => k.id)).toContain(id);
  });

  it('answers NOT_FOUND for an unknown key id and BAD_USER_INPUT for a malformed one or an empty owner', async () => {
    const unknown = await t.gql(REVOKE, { id: '987654' }, admin);
    expect(unknown.body.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    const malformed = await t.gql(REVOKE, { id: 'drop table' }, admin);
    expect(malformed.body.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    const empty = await t.gql(CREATE, { input: { role: 'USER', ownerId: '  ' } }, admin);
    expect(empty.body.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  });

  it('lets only admins manage keys', async () => {
    const anonymous = await t.gql(LIST);
    expect(anonymous.body.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    for (const role of ['user', 'moderator'] as const) {
      const { key } = await t.services.apiKeys.create(role, `${role}-1`);
      const headers = { authorization: `Bearer ${key}` };
      const listed = await t.gql(LIST, {}, headers);
      expect(listed.body.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
      const escalated = await t.gql(CREATE, { input: { role: 'ADMIN', ownerId: 'me' } }, headers);
      expect(escalated.body.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
      expect(escalated.body.data ?? null).toBeNull();
    }
    const admins = await t.services.db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM api_keys WHERE role = 'admin' AND owner_id = 'me'`,
    );
    expect(admins.rows[0]!.n).toBe(0);
  });
});
