interface Waiter {
  exclusive: boolean;
  grant: () => void;
}

/**
 * Many readers or one writer, granted in arrival order: a waiting writer holds back readers that
 * come after it, so a steady stream of searches cannot starve an add.
 */
export class ReadWriteLock {
  #readers = 0;
  #writing = false;
  readonly #queue: Waiter[] = [];

  /** Runs `fn` alongside other readers, never alongside a writer. */
  read<T>(fn: () => Promise<T>): Promise<T> {
    return this.#run(false, fn);
  }

  /** Runs `fn` alone. */
  write<T>(fn: () => Promise<T>): Promise<T> {
    return this.#run(true, fn);
  }

  async #run<T>(exclusive: boolean, fn: () => Promise<T>): Promise<T> {
    await this.#acquire(exclusive);
    try {
      return await fn();
    } finally {
      this.#release(exclusive);
    }
  }

  #acquire(exclusive: boolean): Promise<void> {
    if (this.#queue.length === 0 && this.#canGrant(exclusive)) {
      this.#take(exclusive);
      return Promise.resolve();
    }
    return new Promise((grant) => this.#queue.push({ exclusive, grant }));
  }

  #canGrant(exclusive: boolean): boolean {
    return exclusive ? !this.#writing && this.#readers === 0 : !this.#writing;
  }

  #take(exclusive: boolean): void {
    if (exclusive) this.#writing = true;
    else this.#readers++;
  }

  #release(exclusive: boolean): void {
    if (exclusive) this.#writing = false;
    else this.#readers--;
    for (let next = this.#queue[0]; next && this.#canGrant(next.exclusive); next = this.#queue[0]) {
      this.#queue.shift();
      this.#take(next.exclusive);
      next.grant();
      if (next.exclusive) break;
    }
  }
}
