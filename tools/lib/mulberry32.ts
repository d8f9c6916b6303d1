/**
 * mulberry32: a small, fast, seeded PRNG, uniform in [0, 1). The one copy the tools and the
 * tests share, so that one seed gives the same sequence everywhere (synthetic weights,
 * degradations, clips, fuzz cases). No imports: browser pages load it too.
 */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
