/**
 * The no-allocation contract's counter: wraps a device's create* methods so that each call
 * is counted by name (test pages only; the wrapped device stays usable as before).
 */

/** The GPU object creations a frame must not make (command encoders apart: a frame makes one). */
export const GPU_CREATIONS = [
  'createBuffer',
  'createTexture',
  'createBindGroup',
  'createBindGroupLayout',
  'createPipelineLayout',
  'createComputePipeline',
  'createComputePipelineAsync',
  'createShaderModule',
  'createQuerySet',
  'createSampler',
] as const;

export interface CreationCounter {
  /** Calls per method name since the last reset or take. */
  readonly counts: Record<string, number>;
  reset(): void;
  /** The counts so far, then zero. */
  take(): Record<string, number>;
}

export function countCreations(device: GPUDevice, names: readonly string[] = GPU_CREATIONS): CreationCounter {
  const counts: Record<string, number> = {};
  const d = device as unknown as Record<string, (...a: unknown[]) => unknown>;
  for (const name of names) {
    const original = d[name]!.bind(device);
    d[name] = (...args: unknown[]) => {
      counts[name] = (counts[name] ?? 0) + 1;
      return original(...args);
    };
  }
  const reset = () => {
    for (const k of Object.keys(counts)) delete counts[k];
  };
  return {
    counts,
    reset,
    take() {
      const taken = { ...counts };
      reset();
      return taken;
    },
  };
}
