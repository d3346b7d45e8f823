/**
 * Runs async operations one at a time, in call order. A failed operation rejects its own promise
 * and does not stop the ones queued after it.
 */
export class WriteQueue {
  private tail: Promise<unknown> = Promise.resolve();
  private waiting = 0;

  /** Operations queued or running. */
  get depth(): number {
    return this.waiting;
  }

  run<T>(operation: () => Promise<T>): Promise<T> {
    this.waiting++;
    const result = this.tail.then(operation).finally(() => {
      this.waiting--;
    });
    this.tail = result.catch(() => undefined);
    return result;
  }

  /** Resolves once everything queued so far has finished. */
  async drain(): Promise<void> {
    await this.tail;
  }
}
