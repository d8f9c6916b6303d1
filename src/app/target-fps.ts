/**
 * The "Speed and accuracy" controls: the input following the source's aspect ratio
 * (`{ longSide }`, no padding to a square), the flip test, and targetFps ("as accurate
 * as possible at 30 fps") with the resolution it chose and why, e.g.
 * "481: 24.1 ms at 481, 38.0 at 641; budget 33.3" (ms at the chosen long side, then at the
 * next larger one, measured or predicted). They call the PoseApp and redraw on its
 * `change` and `frame` events.
 */
import type { PoseApp } from './app.ts';
import { h } from './dom.ts';

export const DEFAULT_TARGET_FPS = 30;

export class TargetFpsPanel {
  readonly element: HTMLElement;
  private readonly aspect = h('input', { id: 'aspect', type: 'checkbox' });
  private readonly flipTest = h('input', { id: 'flip-test', type: 'checkbox' });
  private readonly targetOn = h('input', { id: 'target-fps-on', type: 'checkbox' });
  private readonly targetFps = h('input', {
    id: 'target-fps',
    type: 'number',
    min: 0.1,
    max: 240,
    step: 'any',
    value: String(DEFAULT_TARGET_FPS),
    'aria-label': 'target frames per second',
  });
  private readonly reason = h('div', { id: 'target-fps-reason', class: 'muted small', 'aria-live': 'polite' });
  private readonly error = h('div', { id: 'target-fps-error', class: 'field-error', role: 'alert', hidden: true });

  constructor(private readonly app: PoseApp) {
    this.aspect.addEventListener('change', () => this.app.update({ aspect: this.aspect.checked }));
    this.flipTest.addEventListener('change', () => this.app.update({ flipTest: this.flipTest.checked }));
    this.targetOn.addEventListener('change', () => this.applyTarget());
    this.targetFps.addEventListener('change', () => {
      if (this.targetOn.checked) this.applyTarget();
    });
    this.element = h(
      'section',
      { class: 'controls', id: 'speed-accuracy' },
      h(
        'fieldset',
        {},
        h('legend', {}, 'Speed and accuracy'),
        h('label', { class: 'row' }, this.aspect, ' Fit the input to the source (no padding to a square; the resolution is the long side)'),
        h(
          'label',
          { class: 'row' },
          this.flipTest,
          ' Flip test (also run the mirrored frame and average: more accurate, about twice the GPU work)',
        ),
        h('label', { class: 'row' }, this.targetOn, ' Hold ', this.targetFps, ' fps (the largest resolution that fits on this GPU)'),
        this.reason,
        this.error,
      ),
    );
    app.on('change', () => this.refresh());
    app.on('frame', () => this.showReason());
    this.refresh();
  }

  private applyTarget(): void {
    const fps = Number(this.targetFps.value);
    try {
      this.app.setTargetFps(this.targetOn.checked ? fps : null);
      this.error.hidden = true;
    } catch (err) {
      this.error.textContent = (err as Error).message;
      this.error.hidden = false;
      this.targetOn.checked = false;
    }
  }

  private refresh(): void {
    const s = this.app.settings;
    this.aspect.checked = s.aspect;
    this.flipTest.checked = s.flipTest;
    this.targetOn.checked = s.targetFps !== null;
    if (s.targetFps !== null && document.activeElement !== this.targetFps) this.targetFps.value = String(s.targetFps);
    this.showReason();
  }

  /** The choice and why, as targetFps explains it; a note when it is off. */
  private showReason(): void {
    const choice = this.app.targetFpsChoice;
    const text = choice
      ? `${choice.reason} (${choice.shape === 'aspect' ? 'long sides; the input follows the source' : 'square inputs'})`
      : 'Off: the resolution stays where it is set.';
    if (this.reason.textContent !== text) this.reason.textContent = text;
  }
}
