import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { faissBuild } from '../../search-cluster/src/faiss/faiss-index.ts';

/** What a reader needs to judge a benchmark's numbers: the machine, the runtime and how busy it was. */
export interface MachineFacts {
  cpus: number;
  cpuModel: string;
  memoryGiB: number;
  node: string;
  platform: string;
  /** Which FAISS the addon links: AVX2 build or Debian's generic fallback, and its patches. */
  faiss: string;
}

export function machineFacts(): MachineFacts {
  return {
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model.trim() ?? 'unknown',
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
    platform: `${os.platform()} ${os.release()}`,
    faiss: faissBuild().label,
  };
}

export interface LoadSummary {
  /** 1-minute load average when the run started. */
  atStart: number;
  /** 1-minute load average when the measured phase ended. */
  atEnd: number;
  /** Mean and highest of the 1-minute load average sampled every `everyMs` during the run. */
  mean: number;
  max: number;
  samples: number;
  /** CPU this process used over the run, as a share of the whole machine (100 = every core busy). */
  processCpuPercent: number;
  /**
   * CPU every other process used over the run, as a share of the whole machine (/proc/stat's busy
   * time minus this process's; the Postgres server counts here when the run uses it). Null where
   * /proc/stat is not readable.
   */
  othersCpuPercent: number | null;
  /**
   * CPU the hypervisor took from this virtual machine over the run (/proc/stat's steal time), as a
   * share of the whole machine: a neighbour's work on the same host, invisible to `ps`, that slows
   * every thread. Not in othersCpuPercent. Null where /proc/stat is not readable.
   */
  stolenCpuPercent: number | null;
}

/** Above this share of the machine used by other processes, a run counts as shared. */
export const SHARED_MACHINE_OTHERS_PERCENT = 25;

/**
 * Did other work share the cores? The load average cannot tell: a benchmark that keeps more threads
 * runnable than there are cores (FAISS, onnxruntime and libuv pools beside the event loop) pushes
 * it above the core count by itself. Other processes' measured CPU can; without /proc/stat the load
 * average decides.
 */
export function sharedMachine(load: LoadSummary, cpus: number): boolean {
  return load.othersCpuPercent === null
    ? load.mean > cpus
    : load.othersCpuPercent + (load.stolenCpuPercent ?? 0) > SHARED_MACHINE_OTHERS_PERCENT;
}

/** "other processes X% of the CPU, the hypervisor Y% (steal)": who else had the cores; null without /proc/stat. */
export function sharedCpuText(load: LoadSummary): string | null {
  if (load.othersCpuPercent === null) return null;
  return `other processes ${load.othersCpuPercent}% of the CPU, the hypervisor ${load.stolenCpuPercent ?? 0}% (steal time)`;
}

/** The machine-wide busy and total CPU time from /proc/stat, in clock ticks; null off Linux. */
function machineCpuTicks(): { busy: number; steal: number; total: number } | null {
  try {
    const fields = readFileSync('/proc/stat', 'utf8')
      .split('\n')[0]!
      .trim()
      .split(/\s+/)
      .slice(1)
      .map(Number);
    // user nice system idle iowait irq softirq steal (guest time is inside user already)
    const total = fields.slice(0, 8).reduce((a, b) => a + b, 0);
    const idle = (fields[3] ?? 0) + (fields[4] ?? 0);
    return { busy: total - idle, steal: fields[7] ?? 0, total };
  } catch {
    return null;
  }
}

/**
 * Samples the 1-minute load average while a run goes on. Other engineers share this machine, so a
 * load well above the core count says the numbers are pessimistic.
 */
export function sampleLoad(everyMs = 5_000): { stop(): LoadSummary } {
  const atStart = os.loadavg()[0]!;
  const cpuAtStart = process.cpuUsage();
  const machineAtStart = machineCpuTicks();
  const wallAtStart = performance.now();
  const samples: number[] = [atStart];
  const timer = setInterval(() => samples.push(os.loadavg()[0]!), everyMs);
  timer.unref();
  return {
    stop() {
      clearInterval(timer);
      const atEnd = os.loadavg()[0]!;
      samples.push(atEnd);
      const round = (x: number) => Math.round(x * 100) / 100;
      const cpu = process.cpuUsage(cpuAtStart);
      const cpuMs = (cpu.user + cpu.system) / 1000;
      const wallMs = performance.now() - wallAtStart;
      const processCpuPercent = Math.round((cpuMs / wallMs / os.cpus().length) * 1000) / 10;
      const machineAtEnd = machineCpuTicks();
      let othersCpuPercent: number | null = null;
      let stolenCpuPercent: number | null = null;
      if (machineAtStart && machineAtEnd && machineAtEnd.total > machineAtStart.total) {
        const span = machineAtEnd.total - machineAtStart.total;
        const busyPercent = (100 * (machineAtEnd.busy - machineAtStart.busy)) / span;
        const stealPercent = (100 * (machineAtEnd.steal - machineAtStart.steal)) / span;
        stolenCpuPercent = Math.round(stealPercent * 10) / 10;
        othersCpuPercent = Math.max(
          0,
          Math.round((busyPercent - stealPercent - processCpuPercent) * 10) / 10,
        );
      }
      return {
        atStart: round(atStart),
        atEnd: round(atEnd),
        mean: round(samples.reduce((a, b) => a + b, 0) / samples.length),
        max: round(Math.max(...samples)),
        samples: samples.length,
        processCpuPercent,
        othersCpuPercent,
        stolenCpuPercent,
      };
    },
  };
}

/** The command line as a user would type it, e.g. `npm run bench:search -- --vectors 200000`. */
export function commandLine(script: string): string {
  const args = process.argv.slice(2);
  return `npm run ${script}${args.length > 0 ? ` -- ${args.join(' ')}` : ''}`;
}

/** CPU this process uses from now until stop(): share of the whole machine and CPU ms per unit of work. */
export function cpuMeter(): { stop(units: number): { processCpuPercent: number; cpuMsPerUnit: number } } {
  const cpuAtStart = process.cpuUsage();
  const wallAtStart = performance.now();
  return {
    stop(units) {
      const cpu = process.cpuUsage(cpuAtStart);
      const cpuMs = (cpu.user + cpu.system) / 1000;
      const wallMs = performance.now() - wallAtStart;
      return {
        processCpuPercent: Math.round((cpuMs / wallMs / os.cpus().length) * 1000) / 10,
        cpuMsPerUnit: Math.round((cpuMs / Math.max(1, units)) * 100) / 100,
      };
    },
  };
}

/** A progress line on stdout, stamped with the seconds since the process started. */
export function log(message: string): void {
  console.log(`[${(performance.now() / 1000).toFixed(1)}s] ${message}`);
}

/** The build a run measured: the commit, and whether the working tree differed from it. */
export function gitBuild(): string {
  try {
    const commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], {
      encoding: 'utf8',
    }).trim();
    return `${commit}${dirty ? ' (uncommitted changes)' : ''}, run from source with tsx`;
  } catch {
    return 'unknown (no git)';
  }
}
