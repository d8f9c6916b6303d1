/**
 * A kernel's uniform struct, defined once as data: the list of named, typed fields. From
 * it come both the WGSL struct text (placed in the kernel's module) and the byte offsets
 * the TypeScript side writes, with WGSL's alignment rules applied in one place. Nothing
 * else in the code base knows a uniform byte offset.
 */

export type UniformType = 'u32' | 'i32' | 'f32' | 'vec2f' | 'vec4f';

const SIZE: Record<UniformType, { bytes: number; align: number; scalars: number }> = {
  u32: { bytes: 4, align: 4, scalars: 1 },
  i32: { bytes: 4, align: 4, scalars: 1 },
  f32: { bytes: 4, align: 4, scalars: 1 },
  vec2f: { bytes: 8, align: 8, scalars: 2 },
  vec4f: { bytes: 16, align: 16, scalars: 4 },
};

export interface UniformField<F extends string = string> {
  name: F;
  type: UniformType;
  /** Byte offset in the struct (WGSL's layout rules). */
  offset: number;
}

/** Values for some or all fields: a number for scalars, an array for vectors. */
export type UniformValues<F extends string> = Partial<Record<F, number | readonly number[]>>;

export class UniformLayout<F extends string> {
  readonly fields: readonly UniformField<F>[];
  /** Bytes of the struct, a multiple of 16 (what a binding of it must cover). */
  readonly bytes: number;
  private readonly byName: Map<F, UniformField<F>>;

  constructor(
    readonly structName: string,
    spec: readonly (readonly [F, UniformType])[],
  ) {
    let offset = 0;
    const fields: UniformField<F>[] = [];
    for (const [name, type] of spec) {
      const { bytes, align } = SIZE[type];
      offset = Math.ceil(offset / align) * align;
      fields.push({ name, type, offset });
      offset += bytes;
    }
    this.fields = fields;
    this.bytes = Math.max(16, Math.ceil(offset / 16) * 16);
    this.byName = new Map(fields.map((f) => [f.name, f]));
    if (this.byName.size !== fields.length) throw new Error(`uniform struct ${structName}: duplicate field names`);
  }

  /** The WGSL struct declaration. */
  wgsl(): string {
    return `struct ${this.structName} {\n${this.fields.map((f) => `  ${f.name}: ${f.type},`).join('\n')}\n}`;
  }

  field(name: F): UniformField<F> {
    const f = this.byName.get(name);
    if (!f) throw new Error(`uniform struct ${this.structName} has no field "${name}"`);
    return f;
  }

  /** Writes `values` into `view` for a struct that starts at byte `base`. */
  write(view: DataView, base: number, values: UniformValues<F>): void {
    for (const name in values) this.set(view, base, name, values[name]!);
  }

  /** Writes one field (the per-frame path: no object is made). */
  set(view: DataView, base: number, name: F, value: number | readonly number[]): void {
    const f = this.field(name);
    const n = SIZE[f.type].scalars;
    const scalar = typeof value === 'number';
    if (scalar ? n !== 1 : value.length !== n) {
      throw new Error(`uniform ${this.structName}.${name} (${f.type}) given ${scalar ? 'a number' : `${value.length} values`}`);
    }
    for (let i = 0; i < n; i++) {
      const v = scalar ? value : value[i]!;
      const at = base + f.offset + 4 * i;
      if (f.type === 'u32') {
        if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new Error(`uniform ${this.structName}.${name} = ${v} is not a u32`);
        view.setUint32(at, v, true);
      } else if (f.type === 'i32') {
        if (!Number.isInteger(v) || v < -0x80000000 || v > 0x7fffffff)
          throw new Error(`uniform ${this.structName}.${name} = ${v} is not an i32`);
        view.setInt32(at, v, true);
      } else {
        view.setFloat32(at, v, true);
      }
    }
  }
}
