/**
 * The implementations `npm run bench` compares (shared by the tool and its page; pure, so
 * both can load it). Ours runs in the modes of tools/lib/eval-modes.ts: `ours` on square
 * inputs, `ours-aspect`, `ours-flip` and `ours-aspect+flip` in the others, all tuned;
 * `ours-untuned` is square on the kernels' default variants.
 */
import type { EvalMode } from './eval-modes.ts';

/** Our net in a mode other than square. */
export type OursModeImpl = `ours-${Exclude<EvalMode, 'square'>}`;
export type OursImpl = 'ours' | 'ours-untuned' | OursModeImpl;
export type Impl = OursImpl | 'tfjs-webgpu' | 'tfjs-webgl' | 'tfjs-wasm' | 'ort-webgpu' | 'ort-wasm';

/** Ours, in any mode, tuned or not. */
export const isOurs = (impl: string): impl is OursImpl => impl === 'ours' || impl.startsWith('ours-');
/** TF.js PoseNet on one of TF.js's backends. */
export const isTfjs = (impl: Impl): boolean => impl.startsWith('tfjs-');
/** ONNX Runtime Web on our ONNX file, between our pre- and post-processing. */
export const isOrt = (impl: Impl): boolean => impl.startsWith('ort-');

/** bench's implementation name for our (tuned) net in a mode. */
export const oursImpl = (mode: EvalMode): OursImpl => (mode === 'square' ? 'ours' : `ours-${mode}`);

/** The mode of one of the `ours…` implementations (`ours-untuned` is square). */
export function modeOfImpl(impl: OursImpl): EvalMode {
  return impl === 'ours' || impl === 'ours-untuned' ? 'square' : (impl.slice('ours-'.length) as EvalMode);
}
