export interface BatcherOptions {
  /** most items in one model call; default 16 */
  maxBatch?: number;
  /** how long the first item of a batch waits for company, in ms; 0 batches only what is pushed in the same tick; default 2 */
  maxWaitMs?: number;
}

interface Pending<I, O> {
  item: I;
  resolve: (value: O) => void;
  reject: (error: unknown) => void;
}

/**
 * Dynamic batching: items pushed within `maxWaitMs` of each other share one call of `run`, up
 * to `maxBatch` items. One call runs at a time (the model already uses every core it is given),
 * and items that arrive meanwhile form the next batch, so under load batches fill up by
 * themselves and when idle an item waits at most `maxWaitMs`.
 */
export class DynamicBatcher<I, O> {
  readonly maxBatch: number;
  readonly maxWaitMs: number;
  private queue: Pending<I, O>[] = [];
  private cancelTimer: (() => void) | null = null;
  private running: Promise<void> | null = null;
  private closed = false;

  constructor(
    private readonly run: (items: I[]) => Promise<O[]>,
    { maxBatch = 16, maxWaitMs = 2 }: BatcherOptions = {},
  ) {
    if (!Number.isInteger(maxBatch) || maxBatch < 1) {
      throw new Error(
        `Expected positive integer for maxBatch but received ${maxBatch} of type ${typeof maxBatch}`,
      );
    }
    if (!(maxWaitMs >= 0)) {
      throw new Error(
        `Expected non-negative number for maxWaitMs but received ${maxWaitMs} of type ${typeof maxWaitMs}`,
      );
    }
    this.maxBatch = maxBatch;
    this.maxWaitMs = maxWaitMs;
  }

  push(item: I): Promise<O> {
    if (this.closed) return Promise.reject(new Error('The encoder is closed'));
    return new Promise<O>((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      this.schedule();
    });
  }

  pushMany(items: I[]): Promise<O[]> {
    return Promise.all(items.map((item) => this.push(item)));
  }

  /** Finishes queued work, then refuses new items. */
  async close(): Promise<void> {
    this.closed = true;
    while (this.queue.length > 0 || this.running) {
      if (!this.running) this.flush();
      await this.running;
    }
  }

  private schedule(): void {
    if (this.running) return; // the running batch flushes the queue when it ends
    if (this.queue.length >= this.maxBatch) {
      this.flush();
    } else if (!this.cancelTimer && this.maxWaitMs === 0) {
      const immediate = setImmediate(() => this.flush());
      this.cancelTimer = () => clearImmediate(immediate);
    } else if (!this.cancelTimer) {
      const timeout = setTimeout(() => this.flush(), this.maxWaitMs);
      this.cancelTimer = () => clearTimeout(timeout);
    }
  }

  private flush(): void {
    this.cancelTimer?.();
    this.cancelTimer = null;
    if (this.running || this.queue.length === 0) return;
    const batch = this.queue.splice(0, this.maxBatch);
    this.running = this.execute(batch).finally(() => {
      this.running = null;
      // these items already waited for the previous batch: no extra delay
      if (this.queue.length > 0) this.flush();
    });
  }

  private async execute(batch: Pending<I, O>[]): Promise<void> {
    try {
      const results = await this.run(batch.map((p) => p.item));
      if (results.length !== batch.length) {
        throw new Error(`Batch function returned ${results.length} results for ${batch.length} items`);
      }
      batch.forEach((p, i) => {
        p.resolve(results[i]!);
      });
    } catch (error) {
      for (const p of batch) p.reject(error);
    }
  }
}
