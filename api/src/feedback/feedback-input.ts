import { badInput } from '../errors.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
export const MAX_USER_ID_LENGTH = 128;

/** Query ids are the uuids search hands out; anything else is a client mistake. */
export function parseQueryId(raw: string): string {
  if (!UUID.test(raw)) {
    throw badInput(
      `Expected queryId to be a search's queryId (a uuid) but received ${JSON.stringify(raw.slice(0, 40))}`,
    );
  }
  return raw.toLowerCase();
}

/** The same rules as an uploader id: a user is one id whether it uploads or saves. */
export function parseUserId(raw: string): string {
  const value = raw.trim();
  if (value.length === 0) throw badInput('Expected userId to be a non-empty id');
  if (value.length > MAX_USER_ID_LENGTH) {
    throw badInput(
      `Expected userId to be at most ${MAX_USER_ID_LENGTH} characters but received ${value.length}`,
    );
  }
  // biome-ignore lint/suspicious/noControlCharactersInRegex: rejecting control characters is the point
  if (/[\u0000-\u001f\u007f]/.test(value)) throw badInput('Expected userId without control characters');
  return value;
}
