import { badInput } from '../errors.ts';

const MAX_INT8 = 9223372036854775807n;

/** Image ids are positive int64 as decimal strings; anything else is a client mistake. */
export function parseImageId(raw: string, field = 'id'): string {
  if (!/^[1-9][0-9]{0,18}$/.test(raw) || BigInt(raw) > MAX_INT8) {
    throw badInput(
      `Expected ${field} to be an image id (a positive integer) but received ${JSON.stringify(raw.slice(0, 40))}`,
    );
  }
  return raw;
}

export const isImageId = (raw: string) => /^[1-9][0-9]{0,18}$/.test(raw) && BigInt(raw) <= MAX_INT8;
