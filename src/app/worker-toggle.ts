/**
 * The "Run in a worker" toggle: moves the PoseNet between the page's thread and a dedicated
 * worker with a WebGPU device of its own (PoseApp.setWorkerMode), live, keeping the model,
 * the resolution and the settings. In the worker, frames cross as transferred VideoFrames and
 * the page's thread draws only the poses, over the source element itself (backdrop.ts), so
 * heavy frames no longer block it (`npm run longtasks` measures that). Also `?worker=1`
 * and `poseApp.setWorker(true)`.
 */
import type { PoseApp } from './app.ts';
import { h } from './dom.ts';

export function workerToggle(app: PoseApp): HTMLElement {
  const box = h('input', { id: 'worker-mode', type: 'checkbox' });
  const note = h('div', { id: 'worker-note', class: 'muted small' });
  const refresh = () => {
    box.checked = app.settings.worker;
    const net = app.net;
    note.textContent = !net
      ? ''
      : net.inWorker
        ? 'Running in a worker: frames cross as transferred VideoFrames; this thread draws only the poses, over the video or image element itself (on a moving picture they trail it by the latency).'
        : 'Running on the page’s thread.';
  };
  box.addEventListener('change', () => {
    box.disabled = true;
    note.textContent = box.checked ? 'moving into a worker…' : 'moving onto the page’s thread…';
    void app.setWorkerMode(box.checked).finally(() => {
      box.disabled = false;
      refresh();
    });
  });
  app.on('change', refresh);
  refresh();
  return h('fieldset', { id: 'worker-toggle' }, h('legend', {}, 'Thread'), h('label', { class: 'row' }, box, ' Run in a worker'), note);
}
