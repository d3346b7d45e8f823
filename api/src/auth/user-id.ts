import { badInput } from '../errors.ts';

export const MAX_USER_ID_LENGTH = 128;

/**
 * A user id as a client gives it (an uploader, a saver): trimmed, non-empty, bounded, no control
 * characters. One rule, so a user is one id whether it uploads or saves; `field` names the
 * argument in the error.
 */
export function parseUserIdArg(field: string, raw: string): string {
  const value = raw.trim();
  if (value.length === 0) throw badInput(`Expected ${field} to be a non-empty id`);
  if (value.length > MAX_USER_ID_LENGTH) {
    throw badInput(
      `Expected ${field} to be at most ${MAX_USER_ID_LENGTH} characters but received ${value.length}`,
    );
  }
  // biome-ignore lint/suspicious/noControlCharactersInRegex: rejecting control characters is the point
  if (/[\u0000-\u001f\u007f]/.test(value)) throw badInput(`Expected ${field} without control characters`);
  return value;
}
