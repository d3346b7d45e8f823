import os from 'node:os';
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

/** Opens an ONNX file once; every failure names the file and what to do. */
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
    return await ort.InferenceSession.create(file, {
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
