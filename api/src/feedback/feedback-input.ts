import { parseUserIdArg } from '../auth/user-id.ts';
import { badInput } from '../errors.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

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
export const parseUserId = (raw: string): string => parseUserIdArg('userId', raw);
