/** Images for the GPU test pages: files served by Vite, or generated pictures. */
import { drawFigure } from '../../tools/pages/synthetic-figure.ts';

/**
 * A generated test picture (used where ../shared/coco-mini is absent), `synthetic:<w>x<h>`
 * as its URL.
 */
export function syntheticImageUrl(spec: string): string {
  const [w, h] = spec.slice('synthetic:'.length).split('x').map(Number) as [number, number];
  const canvas = document.createElement('canvas');
  canvas.width = w;
  canvas.height = h;
  drawFigure(canvas.getContext('2d')!, w, h);
  return canvas.toDataURL('image/png');
}

export async function loadImage(url: string): Promise<HTMLImageElement> {
  if (url.startsWith('synthetic:')) url = syntheticImageUrl(url);
  const img = new Image();
  img.src = url;
  try {
    await img.decode();
  } catch {
    throw new Error(`cannot load or decode image ${url}`);
  }
  return img;
}
