import { percentile } from '../support/stats.ts';

/** One measured call kind: throughput, latency per call and CPU per item. */
export interface Row {
  model: string;
  task: 'text' | 'image' | 'safety' | 'index';
  batch: number;
  calls: number;
  itemsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  /** CPU time of this process (every thread: onnxruntime's, sharp's, the safety worker's) per item */
  cpuMsPerItem: number;
}

/** A short warm-up, then `calls` timed calls in sequence; logs the row to stderr. */
export async function measure(
  model: string,
  task: Row['task'],
  batch: number,
  calls: number,
  call: (i: number) => Promise<unknown>,
): Promise<Row> {
  for (let i = 0; i < Math.min(5, calls); i++) await call(i); // warm-up
  const times: number[] = [];
  const cpuAtStart = process.cpuUsage();
  const started = performance.now();
  for (let i = 0; i < calls; i++) {
    const t = performance.now();
    await call(i);
    times.push(performance.now() - t);
  }
  const elapsed = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpuAtStart);
  times.sort((a, b) => a - b);
  const row = {
    model,
    task,
    batch,
    calls,
    itemsPerSecond: Math.round(((calls * batch) / elapsed) * 10) / 10,
    p50Ms: Math.round(percentile(times, 50) * 100) / 100,
    p99Ms: Math.round(percentile(times, 99) * 100) / 100,
    cpuMsPerItem: Math.round(((cpu.user + cpu.system) / 1000 / (calls * batch)) * 100) / 100,
  };
  console.error(
    `${model.padEnd(20)} ${task.padEnd(6)} batch ${String(batch).padStart(2)}: ${row.itemsPerSecond} items/s, p50 ${row.p50Ms} ms, p99 ${row.p99Ms} ms, CPU ${row.cpuMsPerItem} ms/item`,
  );
  return row;
}
