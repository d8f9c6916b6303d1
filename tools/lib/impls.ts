/** The implementations `npm run bench` compares (shared by the tool and its page; no imports, so both can load it). */
export type Impl = 'ours' | 'ours-untuned' | 'tfjs-webgpu' | 'tfjs-webgl' | 'tfjs-wasm';

/** Ours, tuned (`ours`) or on the kernels' default variants (`ours-untuned`). */
export const isOurs = (impl: Impl): boolean => impl === 'ours' || impl === 'ours-untuned';
