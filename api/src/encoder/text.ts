import { normaliseQueryText } from '../edge-trust/protocol.ts';
import { badInput } from '../errors.ts';

/** Longest query text accepted, in characters (Unicode code points). */
export const MAX_TEXT_CHARS = 1000;

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const CONTROL = /\p{Cc}/u;
// tab, line feed and carriage return are whitespace a pasted query may carry
const WHITESPACE_CONTROLS = new Set(['\t', '\n', '\r']);

/**
 * Checks a query text and returns its normal form (`normaliseQueryText`: NFC, runs of whitespace
 * as one space, trimmed, lowercase, as the CLIP tokenizer normalises), the one form encoded and
 * put in cache keys. Emoji and other non-Latin text are fine.
 * Throws BAD_USER_INPUT for a non-string, an empty text, more than MAX_TEXT_CHARS characters,
 * control characters (other than tab and line breaks) or broken UTF-16.
 */
export function normaliseText(text: unknown): string {
  if (typeof text !== 'string') {
    throw badInput(`Expected text to be a string but received ${text === null ? 'null' : typeof text}`);
  }
  if (LONE_SURROGATE.test(text)) throw badInput('Text is not valid Unicode (unpaired surrogate)');
  for (const [index, char] of [...text].entries()) {
    if (CONTROL.test(char) && !WHITESPACE_CONTROLS.has(char)) {
      const code = char.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0');
      throw badInput(`Text must not contain control characters (found U+${code} at position ${index})`);
    }
  }
  const normal = normaliseQueryText(text);
  if (normal.length === 0) throw badInput('Text must not be empty');
  const length = [...normal].length;
  if (length > MAX_TEXT_CHARS) {
    throw badInput(`Text must be at most ${MAX_TEXT_CHARS} characters but has ${length}`);
  }
  return normal;
}
