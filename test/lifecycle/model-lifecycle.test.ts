import { describe } from 'vitest';
import { backends } from '../support/backends.ts';
import { itWalksTheLifecycle } from './lifecycle-walk.ts';

describe.each(backends)('model lifecycle ($name)', ({ create }) => {
  itWalksTheLifecycle(async () => ({ backend: await create() }), { setup: 120_000, walk: 180_000 });
});
