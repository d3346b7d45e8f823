import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { closeSync, mkdirSync, openSync, readSync, statSync, writeSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { isReady } from './readiness.ts';
import type { ProcessSpec } from './topology.ts';

const EXIT_WITH_PARENT = fileURLToPath(new URL('./exit-with-parent.mjs', import.meta.url));
/** How much of a process's latest output is read back: its readiness log line, the tail of a crash. */
const TAIL_BYTES = 64 * 1024;

/** The last `TAIL_BYTES` of `file` written since byte `from`. */
function readTail(file: string, from: number): string {
  let fd: number | null = null;
  try {
    fd = openSync(file, 'r');
    const size = statSync(file).size;
    const start = Math.max(from, size - TAIL_BYTES);
    const buffer = Buffer.alloc(Math.max(0, size - start));
    readSync(fd, buffer, 0, buffer.length, start);
    return buffer.toString('utf8');
  } catch {
    return '';
  } finally {
    if (fd !== null) closeSync(fd);
  }
}

/** One supervised process; `pid` is also its process group (it is started detached). */
export interface Supervised {
  spec: ProcessSpec;
  pid: number | null;
  ready: boolean;
  /** Starts after the first (restarts after a crash). */
  restarts: number;
  /** Output since the last start, last TAIL_BYTES. */
  tail: string;
}

export interface SupervisorOptions {
  /** Working directory of every process (the repository root). */
  cwd: string;
  /** One `<name>.log` per process, appended across restarts. */
  logDir: string;
  /** Base environment of every process (the spec's env is laid over it). */
  env: NodeJS.ProcessEnv;
  /** Status lines: started, ready, exited, restarting. */
  report: (line: string) => void;
  /** Called whenever a pid changes (for the state file). */
  onChange?: () => void;
  /** How long a SIGTERMed process may take before SIGKILL. Default 15 s. */
  stopGraceMs?: number;
}

interface Entry extends Omit<Supervised, 'tail'> {
  child: ChildProcess | null;
  /** Where the current run's output starts in the log file. */
  logOffset: number;
  stopping: boolean;
}

/** Kills a whole process group (a child and what it started, such as wrangler's workerd). */
function killGroup(pid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(-pid, signal);
    return true;
  } catch {
    return false;
  }
}

/** Whether a process group still has a member. */
export function groupAlive(pid: number): boolean {
  try {
    process.kill(-pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Starts processes, restarts one that exits unexpectedly (backoff up to 10 s), tracks which are
 * ready (readiness.ts) and stops them all: SIGTERM to each process group, SIGKILL after the grace.
 */
export class Supervisor {
  private readonly entries = new Map<string, Entry>();
  private stopped = false;

  constructor(private readonly options: SupervisorOptions) {
    mkdirSync(options.logDir, { recursive: true });
  }

  /** Every process, in start order. */
  list(): Supervised[] {
    return [...this.entries.values()].map((entry) => ({
      spec: entry.spec,
      pid: entry.pid,
      ready: entry.ready,
      restarts: entry.restarts,
      tail: this.tailOf(entry),
    }));
  }

  get(name: string): Supervised | undefined {
    return this.list().find((p) => p.spec.name === name);
  }

  logFile = (name: string) => path.join(this.options.logDir, `${name}.log`);

  private tailOf(entry: Entry): string {
    return readTail(this.logFile(entry.spec.name), entry.logOffset);
  }

  start(spec: ProcessSpec): void {
    if (this.entries.has(spec.name)) throw new Error(`${spec.name} is already supervised`);
    const entry: Entry = {
      spec,
      pid: null,
      ready: false,
      restarts: 0,
      child: null,
      logOffset: 0,
      stopping: false,
    };
    this.entries.set(spec.name, entry);
    this.spawn(entry);
  }

  private spawn(entry: Entry): void {
    const { spec } = entry;
    // output straight into the log file, not through a pipe of ours: a child must never block
    // or die on a write because the supervisor is gone (a crashed run's children then stop
    // themselves on stdin's end, see exit-with-parent.mjs)
    const log = openSync(this.logFile(spec.name), 'a');
    entry.logOffset = statSync(this.logFile(spec.name)).size;
    writeSync(log, `\n--- ${new Date().toISOString()} start ${spec.name}\n`);
    let child: ChildProcess;
    try {
      child = spawn(process.execPath, ['--import', EXIT_WITH_PARENT, ...spec.args], {
        cwd: this.options.cwd,
        env: { ...this.options.env, ...spec.env },
        stdio: ['pipe', log, log],
        // its own process group: Ctrl-C reaches the supervisor only, which stops children in order
        detached: true,
      });
    } finally {
      closeSync(log);
    }
    entry.child = child;
    entry.pid = child.pid ?? null;
    entry.ready = false;
    child.on('error', (error) => this.options.report(`${spec.name}: spawn failed: ${error.message}`));
    child.once('exit', (code, signal) => this.exited(entry, child, code, signal));
    this.options.onChange?.();
    void this.watchReadiness(entry, child);
  }

  private async watchReadiness(entry: Entry, child: ChildProcess): Promise<void> {
    while (entry.child === child && child.exitCode === null && child.signalCode === null) {
      if (await isReady(entry.spec, () => this.tailOf(entry))) {
        if (entry.child !== child) return;
        entry.ready = true;
        this.options.report(
          `${entry.spec.name} ready${entry.restarts > 0 ? ` (restart ${entry.restarts})` : ''}`,
        );
        this.options.onChange?.();
        return;
      }
      await sleep(250);
    }
  }

  private exited(entry: Entry, child: ChildProcess, code: number | null, signal: NodeJS.Signals | null) {
    if (entry.child !== child) return;
    // whatever it started dies with it
    if (child.pid) killGroup(child.pid, 'SIGKILL');
    entry.child = null;
    entry.pid = null;
    entry.ready = false;
    this.options.onChange?.();
    if (entry.stopping || this.stopped) return;
    entry.restarts += 1;
    const delay = Math.min(500 * 2 ** Math.min(entry.restarts - 1, 5), 10_000);
    this.options.report(
      `${entry.spec.name} exited (${code ?? signal}); restarting in ${delay} ms, log: ${this.logFile(entry.spec.name)}`,
    );
    setTimeout(() => {
      if (!entry.stopping && !this.stopped) this.spawn(entry);
    }, delay).unref();
  }

  /**
   * Waits until every named process is ready; throws, with the tail of its output, when one
   * keeps exiting before it gets there (`maxRestarts`) or the time is up.
   */
  async waitReady(names: string[], timeoutMs: number, maxRestarts = 2): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const pending = names.map((n) => this.entries.get(n)!).filter((e) => !e.ready);
      if (pending.length === 0) return;
      if (this.stopped) throw new Error('stopped before every process was ready');
      const failing = pending.find((e) => e.restarts > maxRestarts);
      if (failing) throw new Error(this.describeFailure(failing, 'keeps exiting before it is ready'));
      if (Date.now() > deadline) {
        throw new Error(this.describeFailure(pending[0]!, `is not ready after ${timeoutMs / 1000} s`));
      }
      await sleep(250);
    }
  }

  private describeFailure(entry: Entry, what: string): string {
    const tail = this.tailOf(entry).split('\n').slice(-30).join('\n');
    return `${entry.spec.name} ${what} (log: ${this.logFile(entry.spec.name)}):\n${tail}`;
  }

  /** Stops the named processes (all when omitted) together: SIGTERM, SIGKILL after the grace. */
  async stop(names?: string[]): Promise<void> {
    const grace = this.options.stopGraceMs ?? 15_000;
    const chosen = [...this.entries.values()].filter((e) => !names || names.includes(e.spec.name));
    await Promise.all(
      chosen.map(async (entry) => {
        entry.stopping = true;
        const child = entry.child;
        if (!child?.pid) return;
        const exited = once(child, 'exit');
        killGroup(child.pid, 'SIGTERM');
        const timer = setTimeout(() => killGroup(child.pid!, 'SIGKILL'), grace);
        await exited;
        clearTimeout(timer);
        // what it started (tsx's esbuild, wrangler's workerd) goes too, before stop returns
        killGroup(child.pid, 'SIGKILL');
        const deadline = Date.now() + 5000;
        while (groupAlive(child.pid) && Date.now() < deadline) await sleep(50);
      }),
    );
  }

  /** Stops everything, in stages: `order` lists groups of names, first stopped first. */
  async stopAll(order: string[][]): Promise<void> {
    this.stopped = true;
    for (const names of order) await this.stop(names);
    await this.stop();
  }
}
