import { parseUserIdArg } from '../auth/user-id.ts';
import { badInput } from '../errors.ts';

export const MAX_TAGS = 50;
export const MAX_TAG_LENGTH = 64;

export const parseUploaderId = (raw: string): string => parseUserIdArg('uploaderId', raw);

/** Tags hinted by the uploader: trimmed, lower-cased, de-duplicated, bounded. */
export function parseTagsHint(raw: readonly string[] | null | undefined): string[] {
  if (!raw) return [];
  if (raw.length > MAX_TAGS) throw badInput(`Expected at most ${MAX_TAGS} tags but received ${raw.length}`);
  const tags = new Set<string>();
  for (const tag of raw) {
    const value = tag.trim().toLowerCase();
    if (value.length === 0) throw badInput('Expected every tag to be non-empty');
    if (value.length > MAX_TAG_LENGTH) {
      throw badInput(
        `Expected every tag to be at most ${MAX_TAG_LENGTH} characters but received one of ${value.length}`,
      );
    }
    // biome-ignore lint/suspicious/noControlCharactersInRegex: rejecting control characters is the point
    if (/[\u0000-\u001f\u007f]/.test(value)) throw badInput('Expected tags without control characters');
    tags.add(value);
  }
  return [...tags];
}
