/**
 * GPU resource ownership: every buffer and texture belongs to exactly one owner (the
 * model owns its weights, a plan its activations, the PoseNet its staging buffers) and
 * is created through a ResourceGroup, which labels it `Owner.field`, counts its bytes
 * in a shared ledger and destroys it with the group's `dispose()`. The ledger is what
 * the app and the leak tests read: live bytes must return to the same figure whenever
 * the same model runs at the same resolution.
 */

export class GpuLedger {
  private readonly live = new Map<GPUBuffer | GPUTexture, { label: string; bytes: number }>();

  add(resource: GPUBuffer | GPUTexture, label: string, bytes: number): void {
    this.live.set(resource, { label, bytes });
  }

  remove(resource: GPUBuffer | GPUTexture): void {
    this.live.delete(resource);
  }

  /** Bytes of live buffers (and textures, when `includeTextures`). */
  bytes(includeTextures = true): number {
    let total = 0;
    for (const [resource, entry] of this.live) {
      if (!includeTextures && !(resource instanceof GPUBuffer)) continue;
      total += entry.bytes;
    }
    return total;
  }

  get count(): number {
    return this.live.size;
  }

  /** Live resources by label, for debugging leaks. */
  entries(): { label: string; bytes: number }[] {
    return [...this.live.values()];
  }
}

const textureBytesPerPixel: Partial<Record<GPUTextureFormat, number>> = {
  rgba8unorm: 4,
  bgra8unorm: 4,
  rgba16float: 8,
  rgba32float: 16,
};

export class ResourceGroup {
  private readonly owned = new Set<GPUBuffer | GPUTexture>();
  private disposed = false;

  constructor(
    readonly device: GPUDevice,
    readonly owner: string,
    readonly ledger: GpuLedger,
  ) {}

  buffer(field: string, size: number, usage: GPUBufferUsageFlags, mappedAtCreation = false): GPUBuffer {
    this.assertAlive(field);
    const label = `${this.owner}.${field}`;
    // WebGPU wants sizes in multiples of 4; storage bindings prefer 16.
    const bytes = Math.max(16, Math.ceil(size / 16) * 16);
    const buffer = this.device.createBuffer({ label, size: bytes, usage, mappedAtCreation });
    this.owned.add(buffer);
    this.ledger.add(buffer, label, bytes);
    return buffer;
  }

  texture(field: string, descriptor: Omit<GPUTextureDescriptor, 'label'>): GPUTexture {
    this.assertAlive(field);
    const label = `${this.owner}.${field}`;
    const texture = this.device.createTexture({ ...descriptor, label });
    const size = descriptor.size as GPUExtent3DDict;
    const bpp = textureBytesPerPixel[descriptor.format] ?? 4;
    this.owned.add(texture);
    this.ledger.add(texture, label, size.width * (size.height ?? 1) * bpp);
    return texture;
  }

  /** Destroys one resource early (e.g. a source texture replaced by a larger one). */
  release(resource: GPUBuffer | GPUTexture): void {
    if (!this.owned.delete(resource)) return;
    this.ledger.remove(resource);
    resource.destroy();
  }

  dispose(): void {
    for (const resource of this.owned) {
      this.ledger.remove(resource);
      resource.destroy();
    }
    this.owned.clear();
    this.disposed = true;
  }

  get isDisposed(): boolean {
    return this.disposed;
  }

  private assertAlive(field: string): void {
    if (this.disposed) throw new Error(`${this.owner}.${field}: owner already disposed`);
  }
}
