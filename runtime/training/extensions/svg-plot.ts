// A small SVG line-chart writer for PlotReport: axes with round ticks, a grid, lines, a legend.

export interface Series {
  name: string;
  points: readonly (readonly [number, number])[];
}

export interface PlotOptions {
  title?: string;
  xLabel?: string;
  width?: number;
  height?: number;
}

const COLORS = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b'];

/** Round tick positions covering [lo, hi] (1, 2 or 5 times a power of ten apart). */
export function ticks(lo: number, hi: number, count = 6, integer = false): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / count;
  const p = 10 ** Math.floor(Math.log10(raw));
  const nice = [1, 2, 5, 10].map((m) => m * p).find((s) => s >= raw) ?? 10 * p;
  const step = integer ? Math.max(1, nice) : nice;  // epochs and iterations: no tick at 1.5
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const num = (v: number) => Number(v.toFixed(2)).toString();

/**
 * An SVG document plotting each series as a line with point markers. Non-finite values are
 * left out (a NaN loss shows as a gap, not as a broken file).
 */
export function renderPlot(series: readonly Series[], opts: PlotOptions = {}): string {
  const width = opts.width ?? 640, height = opts.height ?? 420;
  // the legend sits above the frame, one row per series, so it never hides a line
  const legendTop = opts.title === undefined ? 12 : 36;
  const left = 70, right = 20, top = legendTop + 18 * series.length + 6, bottom = 50;
  const finite = series.map((s) => ({ ...s, points: s.points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y)) }));
  const all = finite.flatMap((s) => s.points);
  let [x0, x1] = extent(all.map((p) => p[0]));
  let [y0, y1] = extent(all.map((p) => p[1]));
  if (x0 === x1) { x0 -= 1; x1 += 1; }
  if (y0 === y1) { y0 -= Math.abs(y0) * 0.1 || 1; y1 += Math.abs(y1) * 0.1 || 1; }
  const pad = (y1 - y0) * 0.05;
  y0 -= pad; y1 += pad;
  const sx = (x: number) => left + ((x - x0) / (x1 - x0)) * (width - left - right);
  const sy = (y: number) => height - bottom - ((y - y0) / (y1 - y0)) * (height - top - bottom);
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
  ];
  if (opts.title !== undefined) out.push(`<text x="${width / 2}" y="24" text-anchor="middle" font-size="15">${esc(opts.title)}</text>`);
  for (const x of ticks(x0, x1, 6, all.every(([x]) => Number.isInteger(x)))) {
    out.push(`<line x1="${num(sx(x))}" y1="${top}" x2="${num(sx(x))}" y2="${height - bottom}" stroke="#e0e0e0"/>`);
    out.push(`<text x="${num(sx(x))}" y="${height - bottom + 16}" text-anchor="middle">${x}</text>`);
  }
  for (const y of ticks(y0, y1)) {
    out.push(`<line x1="${left}" y1="${num(sy(y))}" x2="${width - right}" y2="${num(sy(y))}" stroke="#e0e0e0"/>`);
    out.push(`<text x="${left - 6}" y="${num(sy(y) + 4)}" text-anchor="end">${y}</text>`);
  }
  out.push(`<rect x="${left}" y="${top}" width="${width - left - right}" height="${height - top - bottom}" fill="none" stroke="black"/>`);
  if (opts.xLabel !== undefined) out.push(`<text x="${(left + width - right) / 2}" y="${height - 12}" text-anchor="middle">${esc(opts.xLabel)}</text>`);
  finite.forEach((s, k) => {
    const color = COLORS[k % COLORS.length];
    const pts = s.points.map(([x, y]) => `${num(sx(x))},${num(sy(y))}`);
    if (pts.length > 1) out.push(`<polyline fill="none" stroke="${color}" stroke-width="2" points="${pts.join(' ')}"/>`);
    for (const p of pts) {
      const [cx, cy] = p.split(',');
      out.push(`<circle cx="${cx}" cy="${cy}" r="3" fill="${color}"/>`);
    }
    const ly = legendTop + 12 + 18 * k;
    out.push(`<line x1="${left}" y1="${ly - 4}" x2="${left + 20}" y2="${ly - 4}" stroke="${color}" stroke-width="2"/>`);
    out.push(`<text x="${left + 26}" y="${ly}">${esc(s.name)}</text>`);
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}

function extent(values: number[]): [number, number] {
  if (values.length === 0) return [0, 1];
  let lo = Infinity, hi = -Infinity;
  for (const v of values) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
  return [lo, hi];
}
