import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { isReady } from './readiness.ts';
import type { ProcessSpec } from './topology.ts';

const EXIT_WITH_PARENT = fileURLToPath(new URL('./exit-with-parent.mjs', import.meta.url));
/** What a process keeps of its output in memory: its readiness log line, the tail of a crash. */
const TAIL_BYTES = 64 * 1024;

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

interface Entry extends Supervised {
  child: ChildProcess | null;
  log: WriteStream;
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
    return [...this.entries.values()].map(({ spec, pid, ready, restarts, tail }) => ({
      spec,
      pid,
      ready,
      restarts,
      tail,
    }));
  }

  get(name: string): Supervised | undefined {
    return this.list().find((p) => p.spec.name === name);
  }

  logFile = (name: string) => path.join(this.options.logDir, `${name}.log`);

  start(spec: ProcessSpec): void {
    if (this.entries.has(spec.name)) throw new Error(`${spec.name} is already supervised`);
    const entry: Entry = {
      spec,
      pid: null,
      ready: false,
      restarts: 0,
      tail: '',
      child: null,
      log: createWriteStream(this.logFile(spec.name), { flags: 'a' }),
      stopping: false,
    };
    this.entries.set(spec.name, entry);
    this.spawn(entry);
  }

  private spawn(entry: Entry): void {
    const { spec } = entry;
    const child = spawn(process.execPath, ['--import', EXIT_WITH_PARENT, ...spec.args], {
      cwd: this.options.cwd,
      env: { ...this.options.env, ...spec.env },
      stdio: ['pipe', 'pipe', 'pipe'],
      // its own process group: Ctrl-C reaches the supervisor only, which stops children in order
      detached: true,
    });
    entry.child = child;
    entry.pid = child.pid ?? null;
    entry.ready = false;
    entry.tail = '';
    entry.log.write(`\n--- ${new Date().toISOString()} start ${spec.name} (pid ${child.pid})\n`);
    const keep = (chunk: Buffer) => {
      entry.log.write(chunk);
      entry.tail = (entry.tail + chunk.toString('utf8')).slice(-TAIL_BYTES);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    child.on('error', (error) => keep(Buffer.from(`spawn failed: ${error.message}\n`)));
    child.once('exit', (code, signal) => this.exited(entry, child, code, signal));
    this.options.onChange?.();
    void this.watchReadiness(entry, child);
  }

  private async watchReadiness(entry: Entry, child: ChildProcess): Promise<void> {
    while (entry.child === child && child.exitCode === null && child.signalCode === null) {
      if (await isReady(entry.spec, entry.tail)) {
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
    entry.log.write(`--- exit ${code ?? signal}\n`);
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
    const tail = entry.tail.split('\n').slice(-30).join('\n');
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
    for (const entry of chosen) {
      if (!entry.log.writableEnded) await new Promise<void>((resolve) => entry.log.end(resolve));
    }
  }

  /** Stops everything, in stages: `order` lists groups of names, first stopped first. */
  async stopAll(order: string[][]): Promise<void> {
    this.stopped = true;
    for (const names of order) await this.stop(names);
    await this.stop();
  }
}
