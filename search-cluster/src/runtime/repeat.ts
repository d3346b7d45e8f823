/**
 * Runs `pass` every `everyMs` (measured from the end of one pass to the start of the next), never
 * two at a time, on an unref'd timer. A pass that throws goes to `onError` (a throwing `onError`
 * is ignored) and the next pass still runs. Returns stop(): no further pass starts, and it
 * resolves once a pass in progress has finished.
 */
export function repeatEvery(
  everyMs: number,
  pass: () => Promise<unknown>,
  onError: (error: unknown) => void = () => {},
): () => Promise<void> {
  let stopped = false;
  let running: Promise<void> | null = null;
  let timer: NodeJS.Timeout | null = null;
  const schedule = () => {
    if (stopped) return;
    timer = setTimeout(tick, everyMs);
    timer.unref();
  };
  function tick() {
    timer = null;
    running = pass()
      .then(() => {})
      .catch((error: unknown) => {
        try {
          onError(error);
        } catch {
          // a broken reporter must not stop the repetition
        }
      })
      .finally(() => {
        running = null;
        schedule();
      });
  }
  schedule();
  return async () => {
    stopped = true;
    if (timer) clearTimeout(timer);
    await running;
  };
}
