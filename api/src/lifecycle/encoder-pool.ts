import type { Encoder } from '../encoder/index.ts';

/** Loads the encoder of a model version (createEncoder with the process's settings). */
export type EncoderLoader = (modelVersion: string) => Promise<Encoder>;

/**
 * The encoders a process holds, one per model version it serves or builds: the configured one
 * from the start, others loaded on first use (once, however many callers ask at the same time)
 * and closed when their version is retired. The configured encoder is never closed here.
 */
export function createEncoderPool(primary: Encoder, load: EncoderLoader) {
  const loading = new Map<string, Promise<Encoder>>([[primary.modelVersion, Promise.resolve(primary)]]);
  const loaded = new Map<string, Encoder>([[primary.modelVersion, primary]]);
  return {
    primary,
    /** The encoder of `modelVersion`, loading it if needed; rejects when it cannot be loaded. */
    get(modelVersion: string): Promise<Encoder> {
      let pending = loading.get(modelVersion);
      if (!pending) {
        pending = load(modelVersion).then((encoder) => {
          if (encoder.modelVersion !== modelVersion) {
            void encoder.close();
            throw new Error(`loading ${modelVersion} gave an encoder of ${encoder.modelVersion}`);
          }
          loaded.set(modelVersion, encoder);
          return encoder;
        });
        pending.catch(() => loading.delete(modelVersion));
        loading.set(modelVersion, pending);
      }
      return pending;
    },
    /** The encoder of `modelVersion` when it is loaded already, else null (never waits). */
    peek(modelVersion: string): Encoder | null {
      return loaded.get(modelVersion) ?? null;
    },
    /** Closes a retired version's encoder (not the configured one). */
    async release(modelVersion: string): Promise<void> {
      if (modelVersion === primary.modelVersion) return;
      const encoder = loaded.get(modelVersion);
      loaded.delete(modelVersion);
      loading.delete(modelVersion);
      await encoder?.close();
    },
    loadedVersions: () => [...loaded.keys()],
    async close(): Promise<void> {
      for (const version of [...loaded.keys()]) await this.release(version);
    },
  };
}
export type EncoderPool = ReturnType<typeof createEncoderPool>;
