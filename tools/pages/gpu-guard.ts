/**
 * Catches every WebGPU error on a device for the tool pages: validation, out-of-memory
 * and internal error scopes stay pushed while the tool works, an `uncapturederror`
 * listener catches anything outside them, and a lost device is reported. `check()` pops
 * the scopes (reporting what they caught) and pushes them again.
 */
const SCOPES: GPUErrorFilter[] = ['validation', 'out-of-memory', 'internal'];

export class GpuErrorGuard {
  private readonly errors: string[] = [];
  private pushed = false;

  constructor(readonly device: GPUDevice) {
    device.addEventListener('uncapturederror', (e) =>
      this.errors.push(`uncaptured WebGPU error: ${(e as GPUUncapturedErrorEvent).error.message}`),
    );
    void device.lost.then((info) => {
      if (info.reason !== 'destroyed') this.errors.push(`WebGPU device lost (${info.reason}): ${info.message}`);
    });
    this.push();
  }

  private push(): void {
    for (const s of SCOPES) this.device.pushErrorScope(s);
    this.pushed = true;
  }

  private async pop(): Promise<void> {
    if (!this.pushed) return;
    this.pushed = false;
    for (const s of [...SCOPES].reverse()) {
      const e = await this.device.popErrorScope();
      if (e) this.errors.push(`WebGPU ${s} error: ${e.message}`);
    }
  }

  /** The errors seen since the last check (each prefixed by `context`); the scopes stay armed. */
  async check(context: string): Promise<string[]> {
    await this.pop();
    this.push();
    return this.errors.splice(0).map((e) => `${context}: ${e}`);
  }

  /** Pops the scopes for good; returns the errors not yet reported. */
  async release(context: string): Promise<string[]> {
    await this.pop();
    return this.errors.splice(0).map((e) => `${context}: ${e}`);
  }
}
