// The pointwise kernel's WGSL, one generator per family of variants. src/kernels/pointwise.ts
// owns the bindings, the uniform struct, the dispatch and the list of variants; it passes
// the generated interface (`iface`) in. Plain TypeScript so that Vite, Node and bundlers
// import it with no loader; `npm run shaders -- --dump pointwise <variant>` prints the result.
import { activationWgsl, workgroupIndexWgsl } from './common.wgsl.ts';
import { each, grid, indent, u } from './wgsl-gen.ts';

/** What every pointwise variant computes, and the layout it reads (the header of each). */
const POINTWISE_HEADER = `// pointwise: 1x1 convolution as a matrix product, with bias, optional residual add and
// activation fused:
//   y[p, oc] = act(sum_ic x[p', ic] * W[ic, oc] + b[oc] (+ r[p, oc]))
// where p' is output pixel p's input pixel (ox * strideX, oy * strideY); stride 2 is the
// ResNet projection shortcut. Also serves the four PoseNet heads, fused into one layer.
//
// Layout: activations NHWC with channels padded to vec4: x[(y * W + x) * C4 + c4].
// Weights (manifest.ts): [icp][oc4] vec4 from params.wOffset (in vec4s): the vec4 at
// (ic, o4) holds input channel ic's weights for output channels 4*o4 .. 4*o4+3, so four
// of them (ic = 4*i4 .. 4*i4+3) are the columns of a mat4x4 that maps an input vec4 to an
// output vec4. Bias: oc4 vec4s at params.bOffset (bias4); int8 scales likewise at
// params.sOffset (scaled4). weight4 decodes the weight format (f32, f16, int8).`;

/** Shared by every variant: overrides, the input pixel of an output pixel, and the fused store. */
const POINTWISE_COMMON = /* wgsl */ `${activationWgsl}
override HAS_RESIDUAL: bool = false;
// Stride other than 1 (ResNet projection shortcuts): input pixels need the 2D mapping.
override STRIDED: bool = false;
${workgroupIndexWgsl}

// First input vec4 of output pixel p (clamped to the last pixel, so loads stay in range).
fn inputBase(p: u32) -> u32 {
  let q = min(p, params.pixels - 1u);
  if (!STRIDED) { return q * params.ic4; }
  let oy = q / params.outW;
  let ox = q - oy * params.outW;
  return ((oy * params.strideY) * params.inW + ox * params.strideX) * params.ic4;
}

// acc (scaled, for int8 weights) + bias (+ residual), activated, stored; out-of-range
// pixels and vec4s are skipped.
fn store(p: u32, o: u32, acc: vec4f, bias: vec4f) {
  if (p >= params.pixels || o >= params.oc4) { return; }
  var v = scaled4(acc, o) + bias;
  let i = p * params.oc4 + o;
  if (HAS_RESIDUAL) { v += residual[i]; }
  y[i] = activate(v);
}

// The mat4x4 mapping input vec4 i4 to output vec4 o (its four weight rows).
fn weightMatrix(i4: u32, o: u32) -> mat4x4f {
  let r0 = params.wOffset + i4 * 4u * params.oc4 + o;
  let oc4 = params.oc4;
  return mat4x4f(weight4(r0), weight4(r0 + oc4), weight4(r0 + 2u * oc4), weight4(r0 + 3u * oc4));
}`;

export interface RegisterTile {
  /** Output pixels per invocation. */
  pixels: number;
  /** Output vec4s (4 channels each) per invocation. */
  vec4s: number;
}

/**
 * Register tiling, no workgroup memory: each invocation computes `pixels` consecutive
 * output pixels x `vec4s` output vec4s in named accumulators.
 */
export function pointwiseTileWgsl(iface: string, tile: RegisterTile): string {
  const { pixels: P, vec4s: C } = tile;
  return /* wgsl */ `${POINTWISE_HEADER}
//
// Variant: register tile of ${P} pixels x ${C} vec4s (${P * C} vec4 accumulators), no
// workgroup memory. Per input vec4 step an invocation loads ${P} input vec4s and ${4 * C}
// weight vec4s and does ${P * C} mat4x4 * vec4 products. Invocation i handles output vec4
// tile (i % oTiles) of pixel tile (i / oTiles): neighbouring invocations share input
// pixels. Out-of-range pixels and output vec4s are clamped on load and skipped on store.
// The large tiles suit SwiftShader (the CPU WebGPU of CI), where every load is a gather
// across SIMD lanes and more products per loaded vec4 pay; GPUs keep 256+ live floats
// only by spilling, hence the smaller tiles of the same generator.
${iface}

const TILE_PIXELS: u32 = ${u(P)};
const TILE_VEC4S: u32 = ${u(C)};
override WORKGROUP_SIZE: u32 = 32;
${POINTWISE_COMMON}

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let index = workgroupIndex(wid, nwg) * WORKGROUP_SIZE + lid;
  let oTiles = (params.oc4 + TILE_VEC4S - 1u) / TILE_VEC4S;
  let ot = index % oTiles;
  let p0 = (index / oTiles) * TILE_PIXELS;
  if (p0 >= params.pixels) { return; }
  let o0 = ot * TILE_VEC4S;
  let lastO = params.oc4 - 1u;
  let oc4 = params.oc4;
  // Output vec4 columns of this tile, clamped so loads stay in range.
  ${indent(
    each(C, (c) => `let c${c} = min(o0 + ${u(c)}, lastO);`),
    2,
  )}
  ${indent(
    each(P, (p) => `let x${p} = inputBase(p0 + ${u(p)});`),
    2,
  )}
  ${indent(
    grid(P, C, (p, c) => `var a${p}_${c} = vec4f(0.0);`),
    2,
  )}

  for (var i = 0u; i < params.ic4; i++) {
    let r0 = params.wOffset + i * 4u * oc4;
    let r1 = r0 + oc4;
    let r2 = r1 + oc4;
    let r3 = r2 + oc4;
    ${indent(
      each(C, (c) => `let m${c} = mat4x4f(weight4(r0 + c${c}), weight4(r1 + c${c}), weight4(r2 + c${c}), weight4(r3 + c${c}));`),
      4,
    )}
    ${indent(
      each(P, (p) => `let v${p} = x[x${p} + i]; ${each(C, (c) => `a${p}_${c} += m${c} * v${p};`, ' ')}`),
      4,
    )}
  }

  ${indent(
    each(C, (c) => `let b${c} = bias4(c${c});`),
    2,
  )}
  ${indent(
    grid(P, C, (p, c) => `store(p0 + ${u(p)}, o0 + ${u(c)}, a${p}_${c}, b${c});`),
    2,
  )}
}
`;
}

export interface SharedTile {
  /** Output pixels per invocation (rows of its register tile). */
  rows: number;
  /** Output vec4s per invocation. */
  vec4s: number;
  /** Invocations along pixels and along output vec4s (their product is the workgroup size). */
  threadsM: number;
  threadsN: number;
  /** Input vec4s per step of the reduction (the depth of the shared tiles). */
  depth: number;
}

/** The shape a shared-tile variant covers per workgroup. */
export function sharedTileExtent(t: SharedTile): { pixels: number; vec4s: number; invocations: number } {
  return { pixels: t.rows * t.threadsM, vec4s: t.vec4s * t.threadsN, invocations: t.threadsM * t.threadsN };
}

/**
 * The conventional GPU tiling (as TF.js matmul_packed and ONNX Runtime's conv2d_mm):
 * a workgroup stages a tile of inputs and a tile of weights in workgroup memory and
 * every invocation reads both from there for a small register tile.
 */
export function pointwiseSharedWgsl(iface: string, t: SharedTile): string {
  const ext = sharedTileExtent(t);
  const { rows: RM, vec4s: RN, depth: TK } = t;
  const xsLoads = (ext.pixels * TK) / ext.invocations;
  const wsLoads = (4 * TK * ext.vec4s) / ext.invocations;
  if (!Number.isInteger(xsLoads) || !Number.isInteger(wsLoads)) throw new Error('pointwiseSharedWgsl: tiles must split evenly');
  return /* wgsl */ `${POINTWISE_HEADER}
//
// Variant: shared tiles (the conventional GPU shape). A workgroup of ${ext.invocations} invocations
// (${t.threadsM} along pixels x ${t.threadsN} along output vec4s) computes ${ext.pixels} pixels x ${ext.vec4s} output
// vec4s. Per step of ${TK} input vec4s it stages the ${ext.pixels} x ${TK} input vec4s and the
// ${4 * TK} x ${ext.vec4s} weight vec4s in workgroup memory (each invocation loads ${xsLoads} + ${wsLoads}), then
// each invocation accumulates its ${RM} pixels x ${RN} vec4s (${RM * RN} accumulators) from there.
// Loads past the tensor read zeros; every invocation reaches every barrier (no early
// return), and only the store is masked.
${iface}

const TILE_M: u32 = ${u(ext.pixels)};
const TILE_N: u32 = ${u(ext.vec4s)};
const TILE_K: u32 = ${u(TK)};
const THREADS_N: u32 = ${u(t.threadsN)};
${POINTWISE_COMMON}

var<workgroup> xs: array<vec4f, ${ext.pixels * TK}>; // [pixel][input vec4]
var<workgroup> ws: array<vec4f, ${4 * TK * ext.vec4s}>; // [input channel][output vec4]

@compute @workgroup_size(${ext.invocations})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let nTiles = (params.oc4 + TILE_N - 1u) / TILE_N;
  let tile = workgroupIndex(wid, nwg);
  let p0 = (tile / nTiles) * TILE_M;
  let n0 = (tile % nTiles) * TILE_N;
  let tx = lid % THREADS_N;
  let ty = lid / THREADS_N;
  let ic4 = params.ic4;
  let oc4 = params.oc4;
  let lastRow = ic4 * 4u - 1u;
  // What this invocation stages: input (pixel, vec4) and weight (row, vec4) slots.
  ${indent(
    each(
      xsLoads,
      (j) =>
        `let xm${j} = (lid + ${u(j * ext.invocations)}) / TILE_K; let xk${j} = (lid + ${u(j * ext.invocations)}) % TILE_K; ` +
        `let xb${j} = inputBase(p0 + xm${j}); let xin${j} = p0 + xm${j} < params.pixels;`,
    ),
    2,
  )}
  ${indent(
    each(
      wsLoads,
      (j) =>
        `let wr${j} = (lid + ${u(j * ext.invocations)}) / TILE_N; let wn${j} = (lid + ${u(j * ext.invocations)}) % TILE_N; ` +
        `let wc${j} = min(n0 + wn${j}, oc4 - 1u); let win${j} = n0 + wn${j} < oc4;`,
    ),
    2,
  )}
  ${indent(
    grid(RM, RN, (i, j) => `var a${i}_${j} = vec4f(0.0);`),
    2,
  )}

  for (var k0 = 0u; k0 < ic4; k0 += TILE_K) {
    ${indent(
      each(
        xsLoads,
        (j) =>
          `xs[lid + ${u(j * ext.invocations)}] = select(vec4f(0.0), x[xb${j} + min(k0 + xk${j}, ic4 - 1u)], xin${j} && k0 + xk${j} < ic4);`,
      ),
      4,
    )}
    ${indent(
      each(
        wsLoads,
        (j) =>
          `ws[lid + ${u(j * ext.invocations)}] = select(vec4f(0.0), weight4(params.wOffset + min(k0 * 4u + wr${j}, lastRow) * oc4 + wc${j}), ` +
          `win${j} && k0 * 4u + wr${j} <= lastRow);`,
      ),
      4,
    )}
    workgroupBarrier();
    for (var k = 0u; k < TILE_K; k++) {
      ${indent(
        each(RN, (j) => {
          const col = `tx * ${u(RN)} + ${u(j)}`;
          return `let m${j} = mat4x4f(ws[(k * 4u) * TILE_N + ${col}], ws[(k * 4u + 1u) * TILE_N + ${col}], ws[(k * 4u + 2u) * TILE_N + ${col}], ws[(k * 4u + 3u) * TILE_N + ${col}]);`;
        }),
        6,
      )}
      ${indent(
        each(RM, (i) => `let v${i} = xs[(ty * ${u(RM)} + ${u(i)}) * TILE_K + k]; ${each(RN, (j) => `a${i}_${j} += m${j} * v${i};`, ' ')}`),
        6,
      )}
    }
    workgroupBarrier();
  }

  ${indent(
    each(RN, (j) => `let o${j} = n0 + tx * ${u(RN)} + ${u(j)}; let b${j} = bias4(min(o${j}, oc4 - 1u));`),
    2,
  )}
  ${indent(
    grid(RM, RN, (i, j) => `store(p0 + ty * ${u(RM)} + ${u(i)}, o${j}, a${i}_${j}, b${j});`),
    2,
  )}
}
`;
}

export interface SplitTile {
  /** Output pixels per workgroup. */
  pixels: number;
  /** Output vec4s per workgroup, one per invocation column. */
  vec4s: number;
  /** Invocations that split the reduction over input vec4s (a power of two). */
  slices: number;
}

/**
 * Split reduction for small outputs (the 17x17 layers at 257: 289 pixels): a workgroup
 * computes a small output tile and its invocations share out the input channels, then
 * add their partial sums in workgroup memory.
 */
export function pointwiseSplitWgsl(iface: string, t: SplitTile): string {
  const { pixels: P, vec4s: C, slices: S } = t;
  const invocations = C * S;
  return /* wgsl */ `${POINTWISE_HEADER}
//
// Variant: split reduction, for layers with few output pixels (where a tile per invocation
// leaves most of a GPU idle). A workgroup of ${invocations} invocations computes ${P} pixels x ${C} output
// vec4s: invocation (slice, column) sums input vec4s slice, slice + ${S}, ... for its column's
// ${P} pixels (${P} accumulators); the ${S} slices' partial sums are then added in workgroup
// memory by a tree of ${Math.log2(S)} steps, each behind a barrier that every invocation reaches.
${iface}

const TILE_PIXELS: u32 = ${u(P)};
const TILE_VEC4S: u32 = ${u(C)};
const SLICES: u32 = ${u(S)};
${POINTWISE_COMMON}

var<workgroup> partial: array<vec4f, ${invocations * P}>; // [slice][column][pixel]

@compute @workgroup_size(${invocations})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let oTiles = (params.oc4 + TILE_VEC4S - 1u) / TILE_VEC4S;
  let tile = workgroupIndex(wid, nwg);
  let p0 = (tile / oTiles) * TILE_PIXELS;
  let column = lid % TILE_VEC4S;
  let slice = lid / TILE_VEC4S;
  let o = (tile % oTiles) * TILE_VEC4S + column;
  let oc = min(o, params.oc4 - 1u);
  ${indent(
    each(P, (p) => `let x${p} = inputBase(p0 + ${u(p)});`),
    2,
  )}
  ${indent(
    each(P, (p) => `var a${p} = vec4f(0.0);`, ' '),
    2,
  )}
  for (var i = slice; i < params.ic4; i += SLICES) {
    let m = weightMatrix(i, oc);
    ${indent(
      each(P, (p) => `a${p} += m * x[x${p} + i];`, ' '),
      4,
    )}
  }
  let mine = (slice * TILE_VEC4S + column) * TILE_PIXELS;
  ${indent(
    each(P, (p) => `partial[mine + ${u(p)}] = a${p};`, ' '),
    2,
  )}
  for (var gap = SLICES / 2u; gap > 0u; gap = gap / 2u) {
    workgroupBarrier();
    if (slice < gap) {
      let other = ((slice + gap) * TILE_VEC4S + column) * TILE_PIXELS;
      ${indent(
        each(P, (p) => `partial[mine + ${u(p)}] += partial[other + ${u(p)}];`, ' '),
        6,
      )}
    }
  }
  if (slice == 0u) {
    let b = bias4(oc);
    ${indent(
      each(P, (p) => `store(p0 + ${u(p)}, o, partial[mine + ${u(p)}], b);`),
      4,
    )}
  }
}
`;
}

export interface SubgroupTile {
  /** Output pixels per workgroup. */
  pixels: number;
  /** Output vec4s per workgroup. */
  vec4s: number;
  /** Invocations per workgroup (all of them share out the reduction). */
  invocations: number;
}

/** WebGPU guarantees subgroups of at least 4 invocations, so a workgroup has at most invocations / 4 of them. */
export const MIN_SUBGROUP_SIZE = 4;

/**
 * Split reduction added with subgroup operations: every invocation of the workgroup sums a
 * share of the input channels for the whole (small) output tile, `subgroupAdd` adds the
 * shares within each subgroup, and one invocation per subgroup leaves its sums in
 * workgroup memory for the final add.
 */
export function pointwiseSubgroupWgsl(iface: string, t: SubgroupTile): string {
  const { pixels: P, vec4s: C, invocations: N } = t;
  const outputs = P * C;
  const maxSubgroups = N / MIN_SUBGROUP_SIZE;
  if (outputs > N) throw new Error('pointwiseSubgroupWgsl: more outputs than invocations');
  return /* wgsl */ `${POINTWISE_HEADER}
//
// Variant: split reduction over the whole workgroup, added with subgroup operations (the
// 'subgroups' feature; compiled only where the device has it). A workgroup of ${N}
// invocations computes ${P} pixels x ${C} output vec4s: invocation i sums input vec4s i, i + ${N}, ...
// into ${outputs} accumulators, subgroupAdd sums them within each subgroup, and one invocation
// per subgroup (subgroupElect) writes the subgroup's sums to a slot it takes with an atomic
// counter; after a barrier, ${outputs} invocations add the slots and store. Nothing here depends on
// the subgroup size or on which invocations share a subgroup: any size from 4 (the least
// WebGPU allows, so at most ${maxSubgroups} slots) to ${N} and beyond gives the same sums.
${iface}

const TILE_PIXELS: u32 = ${u(P)};
const TILE_VEC4S: u32 = ${u(C)};
const INVOCATIONS: u32 = ${u(N)};
const MAX_SUBGROUPS: u32 = ${u(maxSubgroups)};
${POINTWISE_COMMON}

var<workgroup> partial: array<vec4f, ${maxSubgroups * outputs}>; // [subgroup slot][output]
// Workgroup memory starts zeroed (WebGPU guarantees it).
var<workgroup> subgroups: atomic<u32>;

@compute @workgroup_size(${N})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let oTiles = (params.oc4 + TILE_VEC4S - 1u) / TILE_VEC4S;
  let tile = workgroupIndex(wid, nwg);
  let p0 = (tile / oTiles) * TILE_PIXELS;
  let o0 = (tile % oTiles) * TILE_VEC4S;
  let lastO = params.oc4 - 1u;
  ${indent(
    each(C, (c) => `let c${c} = min(o0 + ${u(c)}, lastO);`),
    2,
  )}
  ${indent(
    each(P, (p) => `let x${p} = inputBase(p0 + ${u(p)});`),
    2,
  )}
  ${indent(
    grid(P, C, (p, c) => `var a${p}_${c} = vec4f(0.0);`),
    2,
  )}
  // A loop every invocation runs the same number of times, so the subgroup operations
  // below are in uniform control flow.
  for (var i0 = 0u; i0 < params.ic4; i0 += INVOCATIONS) {
    let i = i0 + lid;
    if (i < params.ic4) {
      ${indent(
        each(C, (c) => `let m${c} = weightMatrix(i, c${c});`),
        6,
      )}
      ${indent(
        each(P, (p) => `let v${p} = x[x${p} + i]; ${each(C, (c) => `a${p}_${c} += m${c} * v${p};`, ' ')}`),
        6,
      )}
    }
  }
  ${indent(
    grid(P, C, (p, c) => `let s${p}_${c} = subgroupAdd(a${p}_${c});`),
    2,
  )}
  if (subgroupElect()) {
    let slot = min(atomicAdd(&subgroups, 1u), MAX_SUBGROUPS - 1u) * ${u(outputs)};
    ${indent(
      grid(P, C, (p, c) => `partial[slot + ${u(p * C + c)}] = s${p}_${c};`),
      4,
    )}
  }
  workgroupBarrier();
  let count = atomicLoad(&subgroups);
  if (lid < ${u(outputs)}) {
    var sum = vec4f(0.0);
    for (var s = 0u; s < count; s++) { sum += partial[s * ${u(outputs)} + lid]; }
    let o = o0 + lid % TILE_VEC4S;
    store(p0 + lid / TILE_VEC4S, o, sum, bias4(min(o, lastO)));
  }
}
`;
}
