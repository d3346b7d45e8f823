import { describe, expect, it } from 'vitest';
import { ReadWriteLock } from './rw-lock.ts';

const tick = () => new Promise((resolve) => setTimeout(resolve, 5));

describe('ReadWriteLock', () => {
  it('lets readers overlap, keeps writers alone, and lets a waiting writer go before later readers', async () => {
    const lock = new ReadWriteLock();
    const log: string[] = [];
    let active = 0;
    let maxReaders = 0;
    const reader = (name: string) =>
      lock.read(async () => {
        active++;
        maxReaders = Math.max(maxReaders, active);
        log.push(`${name}+`);
        await tick();
        log.push(`${name}-`);
        active--;
      });
    const writer = (name: string) =>
      lock.write(async () => {
        expect(active).toBe(0);
        log.push(`${name}+`);
        await tick();
        log.push(`${name}-`);
      });
    await Promise.all([reader('r1'), reader('r2'), writer('w1'), reader('r3')]);
    expect(maxReaders).toBe(2);
    expect(log).toEqual(['r1+', 'r2+', 'r1-', 'r2-', 'w1+', 'w1-', 'r3+', 'r3-']);
  });

  it('releases the lock when the holder fails', async () => {
    const lock = new ReadWriteLock();
    await expect(lock.write(async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    await expect(lock.read(async () => 'ok')).resolves.toBe('ok');
  });
});
