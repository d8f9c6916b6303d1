/**
 * Where createPoseNet() finds the default model (PoseNet MobileNetV1 0.75, output stride
 * 16; Google's weights, Apache-2.0: see NOTICE) when no `weights` are given.
 *
 * The URLs are relative to this module, and this file sits one folder below the root in
 * the repository (src/) as the built module does in the npm package (lib/), so
 * `../weights/...` is the repository's weights/ folder in one and the package's in the
 * other. They are string literals on purpose: bundlers that handle
 * `new URL('<literal>', import.meta.url)` (Vite, webpack 5, Parcel) copy both files into
 * the build and rewrite the URLs; bundlers that do not (esbuild) leave them relative to
 * the bundle (README "Use it in your app" says what to copy where). Two URLs rather than
 * the folder's because a bundler renames each file it copies.
 */
import type { WeightsFiles } from './model/model.ts';

/**
 * The default model's folder under weights/, in the default weight format (both chosen in
 * src/model/weight-format.ts). The two URL literals below must name this folder
 * (test/weight-formats.test.ts checks it; tools/build-lib.ts packs what they name).
 */
export { DEFAULT_MODEL_NAME } from './model/weight-format.ts';

/** The default model's two files, or null where this module has no URL (e.g. bundled as a classic script). */
export function defaultWeights(): WeightsFiles | null {
  try {
    return {
      manifestUrl: new URL('../weights/posenet-mobilenet-v1-075-s16-f16/model.json', import.meta.url).href,
      weightsUrl: new URL('../weights/posenet-mobilenet-v1-075-s16-f16/weights.bin', import.meta.url).href,
    };
  } catch {
    return null;
  }
}
