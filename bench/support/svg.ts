/**
 * Small SVG charts for bench results (issue 14: each bench writes an SVG of its main curve): one
 * function per chart kind, no dependencies, deterministic output (the file diffs cleanly).
 */

export interface Series {
  name: string;
  /** Bars: one value per category (NaN leaves a gap). Lines: [x, y] points. */
  values: number[] | [number, number][];
}

export interface ChartOptions {
  title: string;
  yLabel: string;
  /** Bars: the category labels. Lines: the x-axis label (one entry). */
  x: string[];
  series: Series[];
  /** Horizontal reference lines (a target), labelled. */
  references?: { y: number; label: string }[];
  logX?: boolean;
  logY?: boolean;
}

const W = 760;
const H = 420;
const PAD = { left: 70, right: 190, top: 40, bottom: 90 };
const COLOURS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#17becf'];

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const fmt = (v: number) =>
  Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 1 ? v.toFixed(1) : v.toPrecision(2);

/** Maps data values to pixels along one axis, linear or logarithmic, with ~5 labelled ticks. */
function axis(values: number[], from: number, to: number, log: boolean, zero: boolean) {
  const t = (v: number) => (log ? Math.log10(v) : v);
  const finite = values.filter((v) => Number.isFinite(v) && (!log || v > 0)).map(t);
  let lo = Math.min(...finite, ...(zero && !log ? [0] : []));
  let hi = Math.max(...finite);
  if (!(hi > lo)) [lo, hi] = [lo - 1, hi + 1];
  if (!log) hi += (hi - lo) * 0.05;
  const at = (v: number) => from + ((t(v) - lo) / (hi - lo)) * (to - from);
  const ticks = Array.from({ length: 5 }, (_, i) => {
    const raw = lo + ((hi - lo) * i) / 4;
    return log ? 10 ** raw : raw;
  });
  return { at, ticks };
}

function frame(o: ChartOptions, yTicks: number[], y: (v: number) => number, body: string[]): string {
  const legend = o.series.map(
    (s, i) =>
      `<rect x="${W - PAD.right + 15}" y="${PAD.top + i * 20}" width="12" height="12" fill="${COLOURS[i % COLOURS.length]}"/>` +
      `<text x="${W - PAD.right + 32}" y="${PAD.top + i * 20 + 10}">${esc(s.name)}</text>`,
  );
  const refs = (o.references ?? []).map(
    (r) =>
      `<line x1="${PAD.left}" x2="${W - PAD.right}" y1="${y(r.y).toFixed(1)}" y2="${y(r.y).toFixed(1)}" stroke="#555" stroke-dasharray="5,4"/>` +
      `<text x="${W - PAD.right - 4}" y="${(y(r.y) - 4).toFixed(1)}" text-anchor="end" fill="#555">${esc(r.label)}</text>`,
  );
  const grid = yTicks.map(
    (v) =>
      `<line x1="${PAD.left}" x2="${W - PAD.right}" y1="${y(v).toFixed(1)}" y2="${y(v).toFixed(1)}" stroke="#eee"/>` +
      `<text x="${PAD.left - 6}" y="${(y(v) + 4).toFixed(1)}" text-anchor="end">${fmt(v)}</text>`,
  );
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="11">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2}" y="22" text-anchor="middle" font-size="14">${esc(o.title)}</text>`,
    `<text transform="translate(16 ${(PAD.top + H - PAD.bottom) / 2}) rotate(-90)" text-anchor="middle">${esc(o.yLabel)}</text>`,
    ...grid,
    `<line x1="${PAD.left}" x2="${W - PAD.right}" y1="${H - PAD.bottom}" y2="${H - PAD.bottom}" stroke="#333"/>`,
    ...body,
    ...refs,
    ...legend,
    '</svg>',
    '',
  ].join('\n');
}

/** Grouped bars: one group per category (`o.x`), one bar per series. */
export function barChart(o: ChartOptions): string {
  const values = o.series.flatMap((s) => s.values as number[]);
  const { at: y, ticks } = axis(
    [...values, ...(o.references ?? []).map((r) => r.y)],
    H - PAD.bottom,
    PAD.top,
    o.logY ?? false,
    true,
  );
  const groupW = (W - PAD.left - PAD.right) / o.x.length;
  const barW = (groupW * 0.8) / o.series.length;
  const base = o.logY ? H - PAD.bottom : y(0);
  const body = o.x.flatMap((label, c) => {
    const x0 = PAD.left + c * groupW + groupW * 0.1;
    const bars = o.series.map((s, i) => {
      const v = (s.values as number[])[c]!;
      if (!Number.isFinite(v)) return '';
      const top = y(v);
      return `<rect x="${(x0 + i * barW).toFixed(1)}" y="${Math.min(top, base).toFixed(1)}" width="${(barW - 1).toFixed(1)}" height="${Math.abs(base - top).toFixed(1)}" fill="${COLOURS[i % COLOURS.length]}"><title>${esc(`${s.name}, ${label}: ${v}`)}</title></rect>`;
    });
    const cx = PAD.left + (c + 0.5) * groupW;
    return [
      ...bars,
      `<text transform="translate(${cx.toFixed(1)} ${H - PAD.bottom + 12}) rotate(20)" text-anchor="start">${esc(label)}</text>`,
    ];
  });
  return frame(o, ticks, y, body);
}

/** Lines through [x, y] points, one per series; `o.x[0]` labels the x axis. */
export function lineChart(o: ChartOptions): string {
  const points = o.series.flatMap((s) => s.values as [number, number][]);
  const { at: x, ticks: xTicks } = axis(
    points.map((p) => p[0]),
    PAD.left,
    W - PAD.right,
    o.logX ?? false,
    false,
  );
  const { at: y, ticks } = axis(
    [...points.map((p) => p[1]), ...(o.references ?? []).map((r) => r.y)],
    H - PAD.bottom,
    PAD.top,
    o.logY ?? false,
    false,
  );
  const body = [
    ...xTicks.map(
      (v) => `<text x="${x(v).toFixed(1)}" y="${H - PAD.bottom + 16}" text-anchor="middle">${fmt(v)}</text>`,
    ),
    `<text x="${(PAD.left + W - PAD.right) / 2}" y="${H - PAD.bottom + 40}" text-anchor="middle">${esc(o.x[0] ?? '')}</text>`,
    ...o.series.map((s, i) => {
      const colour = COLOURS[i % COLOURS.length];
      const pts = (s.values as [number, number][]).map(([a, b]) => `${x(a).toFixed(1)},${y(b).toFixed(1)}`);
      const dots = pts.map(
        (p) => `<circle cx="${p.split(',')[0]}" cy="${p.split(',')[1]}" r="3" fill="${colour}"/>`,
      );
      return `<polyline fill="none" stroke="${colour}" stroke-width="2" points="${pts.join(' ')}"/>${dots.join('')}`;
    }),
  ];
  return frame(o, ticks, y, body);
}
