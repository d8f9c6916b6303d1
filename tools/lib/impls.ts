/** The implementations `npm run bench` compares (shared by the tool and its page; no imports, so both can load it). */
export type Impl = 'ours' | 'ours-untuned' | 'tfjs-webgpu' | 'tfjs-webgl' | 'tfjs-wasm' | 'ort-webgpu' | 'ort-wasm';

/** Ours, tuned (`ours`) or on the kernels' default variants (`ours-untuned`). */
export const isOurs = (impl: Impl): boolean => impl === 'ours' || impl === 'ours-untuned';
/** TF.js PoseNet on one of TF.js's backends. */
export const isTfjs = (impl: Impl): boolean => impl.startsWith('tfjs-');
/** ONNX Runtime Web on our ONNX file, between our pre- and post-processing. */
export const isOrt = (impl: Impl): boolean => impl.startsWith('ort-');
