import os from 'node:os';
import { Worker } from 'node:worker_threads';
import * as ort from 'onnxruntime-node';

export type ExecutionProvider = 'cpu' | 'cuda';

export interface SessionOptions {
  /** default cpu; cuda needs onnxruntime-node installed with `--onnxruntime-node-install=cuda12` */
  executionProvider?: ExecutionProvider;
  /** threads one model call may use; default min(4, available cores) */
  intraOpThreads?: number;
  /**
   * let idle intra-op threads spin for the next call (lower latency for back-to-back calls, but
   * burns CPU the API, sharp and nsfwjs need); default false
   */
  allowSpinning?: boolean;
}

export const defaultIntraOpThreads = () => Math.max(1, Math.min(4, os.availableParallelism()));

const CUDA_HINT =
  'The CUDA execution provider needs an NVIDIA GPU with CUDA 12 and cuDNN 9, and onnxruntime-node ' +
  "installed with its CUDA binaries: `npm install --onnxruntime-node-install=cuda12` (this repo's " +
  '.npmrc skips them by default). Or set PIXELFIND_EXECUTION_PROVIDER=cpu.';

/** A tensor as it crosses to and from the session's thread. */
interface WireTensor {
  type: ort.Tensor.Type;
  data: ort.Tensor.DataType;
  dims: readonly number[];
}

type SessionReply =
  | {
      type: 'ready';
      inputNames: string[];
      outputNames: string[];
      inputMetadata: ort.InferenceSession.ValueMetadata[];
      outputMetadata: ort.InferenceSession.ValueMetadata[];
    }
  | { type: 'failed'; message: string }
  | { type: 'result'; id: number; outputs: Record<string, WireTensor> }
  | { type: 'error'; id: number; message: string };

type ReadyReply = Extract<SessionReply, { type: 'ready' }>;

/** The tensor's values alone: a view into a larger buffer is copied out, so only it crosses. */
function wireTensor(value: ort.OnnxValue, name: string): WireTensor {
  if (!(value instanceof ort.Tensor)) throw new Error(`Expected a tensor for input ${name}`);
  const data = value.data as ort.Tensor.DataType & { buffer?: ArrayBufferLike; byteLength?: number };
  const whole = !ArrayBuffer.isView(data) || data.byteLength === data.buffer.byteLength;
  return { type: value.type, data: whole ? data : (data as Float32Array).slice(), dims: value.dims };
}

/**
 * An onnxruntime session that runs on its own worker thread (onnx-session-worker.mjs), behind the
 * InferenceSession interface: onnxruntime-node computes `run()` on its caller's thread, and the
 * API's thread must keep serving. Inputs are copied over, outputs transferred back. A run's
 * error rejects that run; a thread that dies rejects what was pending and is started again (the
 * model loaded again) on the next run; after `release()` every run rejects. The thread holds the
 * process open only while a run is pending.
 */
class WorkerSession implements ort.InferenceSession {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  readonly inputMetadata: readonly ort.InferenceSession.ValueMetadata[];
  readonly outputMetadata: readonly ort.InferenceSession.ValueMetadata[];
  private worker: Worker | null;
  private starting: Promise<Worker> | null = null;
  private released = false;
  private nextId = 1;
  private readonly pending = new Map<
    number,
    { resolve: (outputs: ort.InferenceSession.ReturnType) => void; reject: (error: Error) => void }
  >();

  private constructor(
    private readonly file: string,
    private readonly label: string,
    private readonly options: ort.InferenceSession.SessionOptions,
    worker: Worker,
    ready: ReadyReply,
  ) {
    this.inputNames = ready.inputNames;
    this.outputNames = ready.outputNames;
    this.inputMetadata = ready.inputMetadata;
    this.outputMetadata = ready.outputMetadata;
    this.worker = this.attach(worker);
  }

  static async open(
    file: string,
    label: string,
    options: ort.InferenceSession.SessionOptions,
  ): Promise<WorkerSession> {
    const { worker, ready } = await WorkerSession.spawn(file, options);
    return new WorkerSession(file, label, options, worker, ready);
  }

  /** A thread with the session loaded, or the load's error message. */
  private static spawn(
    file: string,
    options: ort.InferenceSession.SessionOptions,
  ): Promise<{ worker: Worker; ready: ReadyReply }> {
    const worker = new Worker(new URL('./onnx-session-worker.mjs', import.meta.url), {
      workerData: { file, options },
    });
    return new Promise((resolve, reject) => {
      const done = () => {
        worker.off('message', onMessage);
        worker.off('error', onError);
        worker.off('exit', onExit);
      };
      const onMessage = (reply: SessionReply) => {
        if (reply.type === 'ready') {
          done();
          resolve({ worker, ready: reply });
        } else if (reply.type === 'failed') {
          done();
          void worker.terminate();
          reject(new Error(reply.message));
        }
      };
      const onError = (error: Error) => {
        done();
        reject(error);
      };
      const onExit = (code: number) => {
        done();
        reject(new Error(`its thread exited with code ${code} while loading`));
      };
      worker.on('message', onMessage);
      worker.on('error', onError);
      worker.on('exit', onExit);
    });
  }

  private attach(worker: Worker): Worker {
    worker.unref();
    worker.on('message', (reply: SessionReply) => {
      if (reply.type !== 'result' && reply.type !== 'error') return;
      const waiter = this.pending.get(reply.id);
      this.pending.delete(reply.id);
      if (this.pending.size === 0) worker.unref();
      if (!waiter) return;
      if (reply.type === 'error') {
        waiter.reject(new Error(`${this.label} failed: ${reply.message}`));
        return;
      }
      const outputs: Record<string, ort.Tensor> = {};
      for (const [name, t] of Object.entries(reply.outputs))
        outputs[name] = new ort.Tensor(t.type, t.data as Float32Array, t.dims);
      waiter.resolve(outputs);
    });
    const lost = (why: string) => {
      if (this.worker === worker) this.worker = null;
      const error = new Error(`${this.label} thread ${why}`);
      for (const waiter of this.pending.values()) waiter.reject(error);
      this.pending.clear();
    };
    worker.on('error', (error) => lost(`crashed: ${error.message}`));
    worker.on('exit', (code) => lost(`exited with code ${code}`));
    return worker;
  }

  /** The live thread; after a crash, a new one with the model loaded again. */
  private async thread(): Promise<Worker> {
    if (this.worker) return this.worker;
    this.starting ??= WorkerSession.spawn(this.file, this.options)
      .then(({ worker }) => {
        this.worker = this.attach(worker);
        return worker;
      })
      .catch((error: unknown) => {
        throw new Error(`Could not reload the ${this.label} from ${this.file}: ${(error as Error).message}`);
      })
      .finally(() => {
        this.starting = null;
      });
    return this.starting;
  }

  run(
    feeds: ort.InferenceSession.FeedsType,
    options?: ort.InferenceSession.RunOptions,
  ): Promise<ort.InferenceSession.ReturnType>;
  run(
    feeds: ort.InferenceSession.FeedsType,
    fetches: ort.InferenceSession.FetchesType,
    options?: ort.InferenceSession.RunOptions,
  ): Promise<ort.InferenceSession.ReturnType>;
  async run(
    feeds: ort.InferenceSession.FeedsType,
    fetchesOrOptions?: ort.InferenceSession.FetchesType | ort.InferenceSession.RunOptions,
  ): Promise<ort.InferenceSession.ReturnType> {
    if (this.released) throw new Error(`${this.label} session was released`);
    const wire: Record<string, WireTensor> = {};
    for (const [name, value] of Object.entries(feeds)) wire[name] = wireTensor(value, name);
    let fetches: string[] | undefined;
    if (Array.isArray(fetchesOrOptions)) fetches = [...fetchesOrOptions];
    else if (fetchesOrOptions && Object.keys(fetchesOrOptions).some((k) => this.outputNames.includes(k)))
      fetches = Object.keys(fetchesOrOptions);
    const worker = await this.thread();
    if (this.released) throw new Error(`${this.label} session was released`);
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      worker.ref();
      worker.postMessage({ type: 'run', id, feeds: wire, fetches });
    });
  }

  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    const worker = this.worker ?? (this.starting ? await this.starting.catch(() => null) : null);
    this.worker = null;
    if (!worker) return;
    const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
    // an idle thread is unref'd: held again, or a process whose last work is this release
    // would end (exit code 13, an unsettled await) before the thread does
    worker.ref();
    worker.postMessage({ type: 'release' });
    // the thread ends once the session is released; a stuck one is stopped
    const stuck = setTimeout(() => void worker.terminate(), 5000);
    stuck.unref();
    await exited;
    clearTimeout(stuck);
  }

  startProfiling(): void {
    throw new Error('Profiling is not available on a session that runs on a worker thread');
  }

  endProfiling(): void {
    throw new Error('Profiling is not available on a session that runs on a worker thread');
  }
}

/**
 * Opens an ONNX file once, on a worker thread of its own (see WorkerSession); every failure names
 * the file and what to do.
 */
export async function openSession(
  file: string,
  label: string,
  options: SessionOptions = {},
): Promise<ort.InferenceSession> {
  const provider = options.executionProvider ?? 'cpu';
  if (provider !== 'cpu' && provider !== 'cuda') {
    throw new Error(`Expected executionProvider cpu or cuda but received ${JSON.stringify(provider)}`);
  }
  const threads = options.intraOpThreads ?? defaultIntraOpThreads();
  if (!Number.isInteger(threads) || threads < 1) {
    throw new Error(
      `Expected positive integer for intraOpThreads but received ${threads} of type ${typeof threads}`,
    );
  }
  try {
    return await WorkerSession.open(file, label, {
      executionProviders: provider === 'cuda' ? ['cuda', 'cpu'] : ['cpu'],
      intraOpNumThreads: threads,
      interOpNumThreads: 1,
      executionMode: 'sequential',
      graphOptimizationLevel: 'all',
      extra: { session: { intra_op: { allow_spinning: options.allowSpinning ? '1' : '0' } } },
    });
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    const hint = provider === 'cuda' && /cuda|provider/i.test(reason) ? ` ${CUDA_HINT}` : '';
    throw new Error(`Could not load the ${label} from ${file}: ${reason}${hint}`);
  }
}
