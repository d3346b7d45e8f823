import cliProgress from 'cli-progress';

export interface Progress {
  /** One more item done. */
  tick(): void;
  stop(): void;
}

const NO_PROGRESS: Progress = { tick() {}, stop() {} };

/**
 * A progress bar with rate and ETA on `stream` (stderr when it is a terminal); nothing without
 * one, so scripts and pipes get only the summary.
 */
export function startProgress(
  stream: NodeJS.WritableStream | undefined,
  total: number,
  label: string,
  options: { noTTYOutput?: boolean } = {},
): Progress {
  if (!stream || total === 0) return NO_PROGRESS;
  const started = Date.now();
  const bar = new cliProgress.SingleBar(
    {
      stream,
      format: `${label} [{bar}] {percentage}% | {value}/{total} | {rate}/s | ETA {eta_formatted}`,
      hideCursor: true,
      etaBuffer: 50,
      noTTYOutput: options.noTTYOutput ?? false,
      notTTYSchedule: 1000,
    },
    cliProgress.Presets.shades_classic,
  );
  let done = 0;
  const rate = () => (done / Math.max((Date.now() - started) / 1000, 0.001)).toFixed(1);
  bar.start(total, 0, { rate: '0.0' });
  return {
    tick() {
      done += 1;
      bar.update(done, { rate: rate() });
    },
    stop() {
      bar.stop();
    },
  };
}
