/**
 * The tolerance for our GPU heads against ONNX Runtime's (test/model-parity.test.ts in the
 * browser, test/node-parity.test.ts in Node): element by element, within 1e-3 absolute or
 * 1e-3 relative, or within 1e-4 of the head's range (max |value|), whichever is larger.
 *
 * Why the range term: both are float32 networks that sum in different orders through 28
 * layers, and the offset and displacement heads (values up to ~200) amplify that noise.
 * Measured on 000000535506.jpg at 513x385 against a float64-accumulated CPU run of the same
 * weights: ONNX Runtime itself is 1.5e-3 off on offsets (range 56) and 1.3e-3 on
 * displacements (range 195), our GPU 1.2e-3 and 2.1e-3; GPU vs ORT reaches 2.7e-3. So a
 * flat 1e-3 cannot hold between any two float32 implementations; 1e-4 of the range (5.6e-3
 * for offsets) sits just above that noise, while a layout or indexing bug moves values by
 * O(1) and still fails.
 */
import { compare, describeMismatches } from './cpu-ref.ts';

export const HEAD_ATOL = 1e-3;
export const HEAD_RTOL = 1e-3;
/** Extra absolute tolerance as a fraction of a head's range (see the header). */
export const HEAD_RANGE_TOL = 1e-4;

export interface HeadComparison {
  /** Elements outside the tolerance (0 passes). */
  count: number;
  maxAbs: number;
  range: number;
  atol: number;
  /** Elements over a flat 1e-3, for the log. */
  overFlat: number;
  /** The largest |actual - expected| / max(atol, rtol * |expected|): how close to failing (1 = at the tolerance). */
  worstRatio: number;
  /** The first mismatches, for a failure message. */
  detail: string;
}

export function compareHead(actual: ArrayLike<number>, expected: ArrayLike<number>, dims?: [number, number, number]): HeadComparison {
  let range = 0;
  for (let i = 0; i < expected.length; i++) range = Math.max(range, Math.abs(expected[i]!));
  const atol = Math.max(HEAD_ATOL, HEAD_RANGE_TOL * range);
  const cmp = compare(actual, expected, atol, HEAD_RTOL);
  let worstRatio = 0;
  for (let i = 0; i < expected.length; i++) {
    const ratio = Math.abs(actual[i]! - expected[i]!) / Math.max(atol, HEAD_RTOL * Math.abs(expected[i]!));
    if (!(ratio <= worstRatio)) worstRatio = Number.isNaN(ratio) ? Infinity : ratio;
  }
  return {
    count: cmp.count,
    maxAbs: cmp.maxAbs,
    range,
    atol,
    overFlat: compare(actual, expected, HEAD_ATOL, HEAD_RTOL).count,
    worstRatio,
    detail: describeMismatches(cmp, dims),
  };
}
