import { expect } from 'vitest';
import { AppError } from '../../api/src/errors.ts';

/** The AppError `promise` rejects with; fails the test when it resolves or throws anything else. */
export async function appErrorOf(
  promise: Promise<unknown>,
  expected = 'the call to fail',
): Promise<AppError> {
  const error = await promise.then(
    () => {
      throw new Error(`expected ${expected}`);
    },
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(AppError);
  return error as AppError;
}
