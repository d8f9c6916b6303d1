/**
 * Worker mode's picture: the source's own <video> or <img> shown under the view canvas,
 * which then holds the poses alone (overlay.ts, transparent). The browser's compositor
 * draws the video, off the page's thread, so the page never copies a frame's pixels:
 * drawing a camera frame into a canvas costs the page's thread tens of milliseconds at
 * 4K on a CPU (Chromium converts the frame's YUV to RGB there). The price: the skeleton is
 * that of the last frame estimated, so on a moving picture it trails by the latency the
 * profiler shows, while on the page's thread the canvas shows exactly the frame estimated.
 *
 * Layout: the element takes the canvas's place in the flow (the same CSS sizing, so the
 * picture keeps its size on screen), and the canvas is laid over it, centred in the same
 * box at the element's displayed size (a ResizeObserver keeps that in step).
 */

export class SourceBackdrop {
  private element: HTMLVideoElement | HTMLImageElement | null = null;
  private readonly observer: ResizeObserver | null;

  constructor(private readonly view: HTMLCanvasElement) {
    this.observer =
      typeof ResizeObserver === 'undefined'
        ? null
        : new ResizeObserver((entries) => {
            const box = entries[entries.length - 1]?.contentRect;
            if (!box || !this.element) return;
            this.view.style.width = `${box.width}px`;
            this.view.style.height = `${box.height}px`;
          });
  }

  /** Whether the element shown is mirrored (the keypoints were flipped). */
  get mirrored(): boolean {
    return this.element?.classList.contains('mirrored') ?? false;
  }

  /** The element shown, or null (the canvas holds the whole picture). */
  get shown(): HTMLVideoElement | HTMLImageElement | null {
    return this.element;
  }

  /** Shows `element` under the canvas, mirrored or not; the caller draws the poses alone. */
  show(element: HTMLVideoElement | HTMLImageElement, mirrored: boolean): void {
    if (this.element !== element) {
      // Another source: the old element's source is being stopped, it stays paused.
      this.detach(false);
      const parent = this.view.parentElement;
      if (!parent) return;
      element.classList.add('backdrop');
      element.setAttribute('aria-hidden', 'true');
      parent.insertBefore(element, this.view);
      this.view.classList.add('overlay');
      this.element = element;
      this.observer?.observe(element);
    }
    element.classList.toggle('mirrored', mirrored);
  }

  /**
   * Takes the element out again: the canvas holds the whole picture. A playing video plays
   * on unless `resume` is false (its source is being stopped).
   */
  hide(resume = true): void {
    this.detach(resume);
  }

  private detach(resume: boolean): void {
    const old = this.element;
    if (!old) return;
    this.element = null;
    this.observer?.unobserve(old);
    old.classList.remove('backdrop', 'mirrored');
    old.removeAttribute('aria-hidden');
    const playing = resume && old instanceof HTMLVideoElement && !old.paused;
    old.remove();
    // A media element taken out of the document pauses (HTML's removal steps, once the task
    // is over); a video that was playing plays on, out of the document as before.
    if (playing) setTimeout(() => void (old.isConnected ? undefined : old.play().catch(() => undefined)), 0);
    this.view.classList.remove('overlay');
    this.view.style.width = '';
    this.view.style.height = '';
  }
}
