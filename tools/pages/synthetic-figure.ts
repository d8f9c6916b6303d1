/**
 * A stand-in picture for when the coco-mini photographs are absent: a stick figure on a
 * gradient, drawn at any size. PoseNet need not recognise it; tests that use it compare
 * implementations on the same pixels, not against annotations.
 */
export function drawFigure(g: CanvasRenderingContext2D | OffscreenCanvasRenderingContext2D, width: number, height: number): void {
  const grad = g.createLinearGradient(0, 0, width, height);
  grad.addColorStop(0, '#6a8caf');
  grad.addColorStop(1, '#d9c6a5');
  g.fillStyle = grad;
  g.fillRect(0, 0, width, height);
  // Body proportions in a 10-unit-tall figure, centred.
  const u = height / 10;
  const cx = width / 2;
  g.fillStyle = '#f0c8a0';
  g.beginPath();
  g.arc(cx, 1.5 * u, 0.8 * u, 0, 2 * Math.PI);
  g.fill();
  g.strokeStyle = '#2a3b5c';
  g.lineCap = 'round';
  g.lineWidth = Math.max(4, 0.7 * u);
  const bones: [number, number, number, number][] = [
    [0, 2.3, 0, 5.5],
    [0, 2.8, -1.5, 4.2],
    [-1.5, 4.2, -2.1, 5.6],
    [0, 2.8, 1.5, 4.2],
    [1.5, 4.2, 2.1, 5.6],
    [0, 5.5, -0.8, 7.5],
    [-0.8, 7.5, -1, 9.6],
    [0, 5.5, 0.8, 7.5],
    [0.8, 7.5, 1, 9.6],
  ];
  for (const [x0, y0, x1, y1] of bones) {
    g.beginPath();
    g.moveTo(cx + x0 * u, y0 * u);
    g.lineTo(cx + x1 * u, y1 * u);
    g.stroke();
  }
}
