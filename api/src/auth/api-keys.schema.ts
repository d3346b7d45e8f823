import { builder } from '../builder.ts';
import { allowed, inputMutation } from '../graph/fields.ts';
import type { ApiKeyRecord } from './api-keys.repository.ts';
import { KEY_ROLES, type KeyRole } from './roles.ts';

/** Admin GraphQL for API keys: what `pixelfind keys` calls on a running server. */
const ApiKeyRoleEnum = builder.enumType('ApiKeyRole', {
  description:
    'What a key may do: USER uploads and saves its own images, PARTNER runs persisted searches, MODERATOR flags and deletes, ADMIN manages keys.',
  values: Object.fromEntries(
    KEY_ROLES.map((role) => [role.toUpperCase(), { value: role, description: `The ${role} role.` }]),
  ) as Record<Uppercase<KeyRole>, { value: KeyRole; description: string }>,
});

const ApiKeyRef = builder.objectRef<ApiKeyRecord>('ApiKey').implement({
  description: "An API key's metadata. The key itself is shown once, by createApiKey, and never stored.",
  fields: (t) => ({
    id: t.exposeID('id', { description: 'Pass it to revokeApiKey.' }),
    prefix: t.exposeString('prefix', { description: 'The first characters of the key, to recognise it by.' }),
    role: t.field({ type: ApiKeyRoleEnum, description: 'What the key may do.', resolve: (key) => key.role }),
    ownerId: t.exposeID('owner_id', { description: 'The user the key acts for.' }),
    label: t.exposeString('label', { nullable: true, description: 'A note for the people who manage keys.' }),
    createdAt: t.field({
      type: 'DateTime',
      description: 'When it was created.',
      resolve: (key) => key.created_at,
    }),
    revokedAt: t.field({
      type: 'DateTime',
      nullable: true,
      description: 'When the key stopped working; null while it works.',
      resolve: (key) => key.revoked_at,
    }),
  }),
});

const CreateApiKeyInput = builder.inputType('CreateApiKeyInput', {
  description: 'A new key for a user.',
  fields: (t) => ({
    role: t.field({ type: ApiKeyRoleEnum, required: true, description: 'What the key may do.' }),
    ownerId: t.id({ required: true, description: 'The user the key acts for (1 to 200 characters).' }),
    label: t.string({ required: false, description: 'A note, at most 200 characters.' }),
  }),
});

const CreateApiKeyPayload = builder
  .objectRef<{ key: string; apiKey: ApiKeyRecord }>('CreateApiKeyPayload')
  .implement({
    description: 'The new key, in plain text this once, and its metadata.',
    fields: (t) => ({
      key: t.exposeString('key', { description: 'The key itself: shown only now, only its hash is kept.' }),
      apiKey: t.field({
        type: ApiKeyRef,
        description: "The new key's metadata.",
        resolve: (payload) => payload.apiKey,
      }),
    }),
  });

const RevokeApiKeyInput = builder.inputType('RevokeApiKeyInput', {
  description: 'The key to revoke.',
  fields: (t) => ({ id: t.id({ required: true, description: 'ApiKey.id' }) }),
});

const RevokeApiKeyPayload = builder
  .objectRef<{ record: ApiKeyRecord; revoked: boolean }>('RevokeApiKeyPayload')
  .implement({
    description: 'The revoked key.',
    fields: (t) => ({
      apiKey: t.field({
        type: ApiKeyRef,
        description: 'The key, with revokedAt set.',
        resolve: (payload) => payload.record,
      }),
      revoked: t.exposeBoolean('revoked', {
        description: 'True when this call revoked it, false when it was revoked already.',
      }),
    }),
  });

builder.queryFields((t) => ({
  apiKeys: t.field({
    type: [ApiKeyRef],
    description: 'Admins: API keys, newest first.',
    args: {
      includeRevoked: t.arg.boolean({
        required: false,
        defaultValue: false,
        description: 'Also list revoked keys. Default false.',
      }),
    },
    resolve: allowed('admin', (args, ctx) =>
      ctx.services.apiKeys.list({ includeRevoked: args.includeRevoked ?? false }),
    ),
  }),
}));

inputMutation('createApiKey', {
  type: CreateApiKeyPayload,
  description: 'Admins: creates an API key. It works at once; the plain key is in the payload only.',
  input: CreateApiKeyInput,
  inputDescription: 'Role, owner and label.',
  action: 'admin',
  resolve: async (input, ctx) => {
    const created = await ctx.services.apiKeys.create(input.role, String(input.ownerId), input.label ?? null);
    return { key: created.key, apiKey: created.record };
  },
});

inputMutation('revokeApiKey', {
  type: RevokeApiKeyPayload,
  description: 'Admins: revokes an API key; it stops working at once. NOT_FOUND for an unknown id.',
  input: RevokeApiKeyInput,
  inputDescription: 'The key to revoke.',
  action: 'admin',
  resolve: (input, ctx) => ctx.services.apiKeys.revoke(String(input.id)),
});
