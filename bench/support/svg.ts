/**
 * Dependency-free SVG charts for benchmark results (issue 14's rule: each bench writes an SVG of
 * its main curve, e.g. recall against QPS per library, or a latency CDF): line charts (series as
 * polylines with point markers, axes linear or log10), grouped bar charts, and a stack of charts in
 * one document. The output is deterministic, so a results file diffs cleanly.
 */

export interface PlotSeries {
  name: string;
  /** [x, y] pairs; drawn in the order given. */
  points: Array<[number, number]>;
}

export interface PlotOptions {
  title: string;
  xLabel: string;
  yLabel: string;
  /** Log10 axes suit QPS and latency, which span decades. Default false. */
  xLog?: boolean;
  yLog?: boolean;
  /** Axis ranges; default the data's, padded by 5%. */
  xRange?: [number, number];
  yRange?: [number, number];
  /** Dashed horizontal reference lines (a target, e.g. recall 0.95). */
  yLines?: Array<{ y: number; label: string }>;
  /** Default 880 x 560. */
  width?: number;
  height?: number;
}

/** Tableau 10: distinct on screen and in print. */
const COLOURS = [
  '#4e79a7',
  '#f28e2b',
  '#e15759',
  '#76b7b2',
  '#59a14f',
  '#edc948',
  '#b07aa1',
  '#ff9da7',
  '#9c755f',
  '#bab0ac',
];
const MARGIN = { left: 70, right: 250, top: 40, bottom: 55 };

const escapeXml = (text: string) =>
  text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

interface Axis {
  toPixel(value: number): number;
  ticks: number[];
}

function axis(range: [number, number], log: boolean, from: number, to: number): Axis {
  const f = log ? Math.log10 : (v: number) => v;
  const [lo, hi] = [f(range[0]), f(range[1])];
  const toPixel = (value: number) => from + ((f(value) - lo) / (hi - lo || 1)) * (to - from);
  return { toPixel, ticks: log ? logTicks(range) : linearTicks(range) };
}

function linearTicks([lo, hi]: [number, number]): number[] {
  const raw = (hi - lo) / 6;
  const magnitude = 10 ** Math.floor(Math.log10(raw || 1));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * magnitude).find((s) => s >= raw) ?? raw;
  const ticks: number[] = [];
  for (let t = Math.ceil(lo / step) * step; t <= hi + step * 1e-9; t += step)
    ticks.push(Number(t.toPrecision(12)));
  return ticks;
}

function logTicks([lo, hi]: [number, number]): number[] {
  const ticks: number[] = [];
  for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++) {
    for (const m of [1, 2, 5]) {
      const t = m * 10 ** e;
      if (t >= lo && t <= hi) ticks.push(t);
    }
  }
  return ticks;
}

function dataRange(values: number[], log: boolean): [number, number] {
  const positive = log ? values.filter((v) => v > 0) : values;
  let lo = Math.min(...positive);
  let hi = Math.max(...positive);
  if (!Number.isFinite(lo)) return log ? [1, 10] : [0, 1];
  if (lo === hi) [lo, hi] = log ? [lo / 2, hi * 2] : [lo - 1, hi + 1];
  if (log) return [lo / 1.1, hi * 1.1];
  const pad = (hi - lo) * 0.05;
  return [lo - pad, hi + pad];
}

const tickLabel = (value: number) =>
  Math.abs(value) >= 1000
    ? `${Number((value / 1000).toPrecision(3))}k`
    : String(Number(value.toPrecision(3)));

/** The chart as an SVG document. */
export function lineChartSvg(series: PlotSeries[], options: PlotOptions): string {
  const width = options.width ?? 880;
  const height = options.height ?? 560;
  const all = series.flatMap((s) => s.points);
  const axisOf = (coordinate: 0 | 1, from: number, to: number) => {
    const log = (coordinate === 0 ? options.xLog : options.yLog) ?? false;
    const range =
      (coordinate === 0 ? options.xRange : options.yRange) ??
      dataRange(
        all.map((p) => p[coordinate]),
        log,
      );
    return axis(range, log, from, to);
  };
  const x = axisOf(0, MARGIN.left, width - MARGIN.right);
  const y = axisOf(1, height - MARGIN.bottom, MARGIN.top);
  const [plotLeft, plotRight, plotTop, plotBottom] = [
    MARGIN.left,
    width - MARGIN.right,
    MARGIN.top,
    height - MARGIN.bottom,
  ];
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
    `<text x="${width / 2}" y="22" text-anchor="middle" font-size="15">${escapeXml(options.title)}</text>`,
  ];
  for (const t of x.ticks) {
    const px = x.toPixel(t).toFixed(1);
    out.push(
      `<line x1="${px}" y1="${plotTop}" x2="${px}" y2="${plotBottom}" stroke="#eee"/>`,
      `<text x="${px}" y="${plotBottom + 16}" text-anchor="middle">${tickLabel(t)}</text>`,
    );
  }
  for (const t of y.ticks) {
    const py = y.toPixel(t).toFixed(1);
    out.push(
      `<line x1="${plotLeft}" y1="${py}" x2="${plotRight}" y2="${py}" stroke="#eee"/>`,
      `<text x="${plotLeft - 6}" y="${py}" text-anchor="end" dominant-baseline="middle">${tickLabel(t)}</text>`,
    );
  }
  out.push(
    `<rect x="${plotLeft}" y="${plotTop}" width="${plotRight - plotLeft}" height="${plotBottom - plotTop}" fill="none" stroke="#333"/>`,
    `<text x="${(plotLeft + plotRight) / 2}" y="${height - 14}" text-anchor="middle">${escapeXml(options.xLabel)}</text>`,
    `<text transform="translate(18 ${(plotTop + plotBottom) / 2}) rotate(-90)" text-anchor="middle">${escapeXml(options.yLabel)}</text>`,
  );
  for (const line of options.yLines ?? []) {
    const py = y.toPixel(line.y).toFixed(1);
    out.push(
      `<line x1="${plotLeft}" y1="${py}" x2="${plotRight}" y2="${py}" stroke="#888" stroke-dasharray="5 4"/>`,
      `<text x="${plotRight - 4}" y="${Number(py) - 4}" text-anchor="end" fill="#666">${escapeXml(line.label)}</text>`,
    );
  }
  series.forEach((s, i) => {
    const colour = COLOURS[i % COLOURS.length];
    const dash = i >= COLOURS.length ? ' stroke-dasharray="2 2"' : '';
    const points = s.points.map(([px, py]) => `${x.toPixel(px).toFixed(1)},${y.toPixel(py).toFixed(1)}`);
    out.push(
      `<polyline fill="none" stroke="${colour}" stroke-width="1.8"${dash} points="${points.join(' ')}"/>`,
    );
    for (const p of points) {
      const [cx, cy] = p.split(',');
      out.push(`<circle cx="${cx}" cy="${cy}" r="2.8" fill="${colour}"/>`);
    }
    const ly = plotTop + 8 + i * 18;
    out.push(
      `<line x1="${plotRight + 12}" y1="${ly}" x2="${plotRight + 34}" y2="${ly}" stroke="${colour}" stroke-width="2"${dash}/>`,
      `<text x="${plotRight + 40}" y="${ly}" dominant-baseline="middle">${escapeXml(s.name)}</text>`,
    );
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}

export interface BarOptions {
  title: string;
  yLabel: string;
  /** The category of each group of bars. */
  categories: string[];
  /** One bar per series in each group: `values[i]` for `categories[i]` (NaN leaves a gap). */
  series: Array<{ name: string; values: number[] }>;
  /** Dashed horizontal reference lines (a target). */
  yLines?: Array<{ y: number; label: string }>;
  /** Default 880 x 560. */
  width?: number;
  height?: number;
}

/** Grouped bars, one group per category, on a linear axis from zero. */
export function barChartSvg(options: BarOptions): string {
  const width = options.width ?? 880;
  const height = options.height ?? 560;
  const values = [...options.series.flatMap((s) => s.values), ...(options.yLines ?? []).map((l) => l.y)];
  const [, hi] = dataRange([0, ...values.filter(Number.isFinite)], false);
  const [plotLeft, plotRight, plotTop, plotBottom] = [
    MARGIN.left,
    width - MARGIN.right,
    MARGIN.top,
    height - MARGIN.bottom,
  ];
  const y = axis([0, hi], false, plotBottom, plotTop);
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
    `<text x="${width / 2}" y="22" text-anchor="middle" font-size="15">${escapeXml(options.title)}</text>`,
    `<text transform="translate(18 ${(plotTop + plotBottom) / 2}) rotate(-90)" text-anchor="middle">${escapeXml(options.yLabel)}</text>`,
  ];
  for (const t of y.ticks) {
    const py = y.toPixel(t).toFixed(1);
    out.push(
      `<line x1="${plotLeft}" y1="${py}" x2="${plotRight}" y2="${py}" stroke="#eee"/>`,
      `<text x="${plotLeft - 6}" y="${py}" text-anchor="end" dominant-baseline="middle">${tickLabel(t)}</text>`,
    );
  }
  const groupWidth = (plotRight - plotLeft) / Math.max(1, options.categories.length);
  const barWidth = (groupWidth * 0.8) / Math.max(1, options.series.length);
  options.categories.forEach((category, c) => {
    const left = plotLeft + c * groupWidth + groupWidth * 0.1;
    options.series.forEach((s, i) => {
      const value = s.values[c]!;
      if (!Number.isFinite(value)) return;
      const top = y.toPixel(value);
      out.push(
        `<rect x="${(left + i * barWidth).toFixed(1)}" y="${top.toFixed(1)}" width="${(barWidth - 1).toFixed(1)}" height="${(plotBottom - top).toFixed(1)}" fill="${COLOURS[i % COLOURS.length]}"><title>${escapeXml(`${s.name}, ${category}: ${value}`)}</title></rect>`,
      );
    });
    const cx = (plotLeft + (c + 0.5) * groupWidth).toFixed(1);
    out.push(
      `<text transform="translate(${cx} ${plotBottom + 14}) rotate(15)" text-anchor="start">${escapeXml(category)}</text>`,
    );
  });
  out.push(`<line x1="${plotLeft}" y1="${plotBottom}" x2="${plotRight}" y2="${plotBottom}" stroke="#333"/>`);
  for (const line of options.yLines ?? []) {
    const py = y.toPixel(line.y).toFixed(1);
    out.push(
      `<line x1="${plotLeft}" y1="${py}" x2="${plotRight}" y2="${py}" stroke="#888" stroke-dasharray="5 4"/>`,
      `<text x="${plotRight - 4}" y="${Number(py) - 4}" text-anchor="end" fill="#666">${escapeXml(line.label)}</text>`,
    );
  }
  options.series.forEach((s, i) => {
    const ly = plotTop + 8 + i * 18;
    out.push(
      `<rect x="${plotRight + 12}" y="${ly - 6}" width="12" height="12" fill="${COLOURS[i % COLOURS.length]}"/>`,
      `<text x="${plotRight + 30}" y="${ly}" dominant-baseline="middle">${escapeXml(s.name)}</text>`,
    );
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}

/** Several charts (lineChartSvg's documents) one under another in one SVG document. */
export function stackSvgs(charts: string[]): string {
  let y = 0;
  let width = 0;
  const parts: string[] = [];
  for (const chart of charts) {
    const w = Number(/width="(\d+)"/.exec(chart)?.[1] ?? 0);
    const h = Number(/height="(\d+)"/.exec(chart)?.[1] ?? 0);
    parts.push(chart.trimEnd().replace('<svg ', `<svg x="0" y="${y}" `));
    y += h;
    width = Math.max(width, w);
  }
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${y}" viewBox="0 0 ${width} ${y}">\n${parts.join('\n')}\n</svg>\n`;
}
