/**
 * The npm packages the Node entry needs and browser users do not: `webgpu` (Dawn) for a
 * device, `sharp` (libvips) for decodeImage. The package declares them as optional peer
 * dependencies (package.json `peerDependencies`, with these ranges: test/node-units.test.ts
 * checks they agree), so they are loaded on first use, and a missing one is one line that
 * says what to install rather than Node's "Cannot find package" from deep in a bundle.
 */
export const NODE_PEERS = {
  webgpu: { range: '0.6.2', role: "Dawn's WebGPU for Node, for a GPU device" },
  sharp: { range: '^0.35.5', role: 'image decoding, for decodeImage' },
} as const;

export type NodePeer = keyof typeof NODE_PEERS;

export class MissingPeerError extends Error {
  override name = 'MissingPeerError';
}

/** True when `err` is the module loader saying that package `name` itself is not installed. */
function isNotInstalled(err: unknown, name: string): boolean {
  const e = err as { code?: string; message?: string } | null;
  return !!e && (e.code === 'ERR_MODULE_NOT_FOUND' || e.code === 'MODULE_NOT_FOUND') && new RegExp(`['"]${name}['"]`).test(e.message ?? '');
}

/**
 * Loads a peer package through `load` (a literal `() => import('name')`, so that bundlers
 * see it). Throws MissingPeerError, one line, when it is not installed or does not load.
 */
export async function importPeer<T>(name: NodePeer, load: () => Promise<T>): Promise<T> {
  const { range, role } = NODE_PEERS[name];
  try {
    return await load();
  } catch (err) {
    if (isNotInstalled(err, name)) {
      throw new MissingPeerError(
        `posenet-webgpu/node needs the npm package ${name} (${role}), which is not installed: npm install ${name}@${range}`,
      );
    }
    const why = ((err as Error)?.message ?? String(err)).split('\n')[0];
    throw new MissingPeerError(`posenet-webgpu/node: the npm package ${name} is installed but does not load (${why})`);
  }
}
