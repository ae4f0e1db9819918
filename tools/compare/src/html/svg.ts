// Small pieces every plot shares: escaping, the frame, axes' gridlines and the legend.

/** Escapes text for HTML and SVG content and attribute values. */
export function esc(text: string | number): string {
  return String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** A plot's outer size and the margins around its drawing area, in CSS pixels. */
export interface Frame {
  width: number;
  height: number;
  top: number;
  right: number;
  bottom: number;
  left: number;
}

/** The default frame: room for a legend above and axis labels left and below. */
export const FRAME: Frame = { width: 560, height: 300, top: 44, right: 28, bottom: 40, left: 66 };

/** One legend entry: `name` identifies the series (data-series), `label` is shown. */
export interface LegendItem {
  name: string;
  label: string;
  colour: string;
  opacity?: number;
}

/** A row of coloured swatches and labels along the top of the frame. */
export function legend(items: readonly LegendItem[], frame: Frame): string {
  let x = frame.left;
  const entries = items.map((item) => {
    const entry = `<g class="legend-item" data-series="${esc(item.name)}" transform="translate(${x},${frame.top - 26})"><rect width="12" height="12" rx="2" fill="${item.colour}" fill-opacity="${item.opacity ?? 1}"/><text x="17" y="10">${esc(item.label)}</text></g>`;
    // Text is not measured here (no layout engine at write time): about 7 px a character at 12 px.
    x += 17 + item.label.length * 7 + 14;
    return entry;
  });
  return `<g class="legend">${entries.join("")}</g>`;
}

/** Horizontal gridlines with their labels at `ticks` (values mapped by `y`). */
export function yGrid(ticks: readonly number[], y: (value: number) => number, format: (value: number) => string, frame: Frame, unit: string): string {
  const lines = ticks.map((tick) => {
    const at = y(tick).toFixed(1);
    return `<line class="grid" x1="${frame.left}" x2="${frame.width - frame.right}" y1="${at}" y2="${at}"/><text class="tick" x="${frame.left - 6}" y="${at}" dy="0.32em" text-anchor="end">${esc(format(tick))}</text>`;
  });
  const title = `<text class="axis-title" transform="translate(12,${(frame.top + frame.height - frame.bottom) / 2}) rotate(-90)" text-anchor="middle">${esc(unit)}</text>`;
  return `<g class="y-axis">${lines.join("")}${title}</g>`;
}

/** Labels under the drawing area at the given x positions. */
export function xLabels(labels: ReadonlyArray<{ x: number; text: string }>, frame: Frame, title: string): string {
  const base = frame.height - frame.bottom;
  const texts = labels.map((label) => `<text class="tick" x="${label.x.toFixed(1)}" y="${base + 16}" text-anchor="middle">${esc(label.text)}</text>`);
  const axis = `<line class="axis" x1="${frame.left}" x2="${frame.width - frame.right}" y1="${base}" y2="${base}"/>`;
  const caption = title ? `<text class="axis-title" x="${(frame.left + frame.width - frame.right) / 2}" y="${frame.height - 4}" text-anchor="middle">${esc(title)}</text>` : "";
  return `<g class="x-axis">${axis}${texts.join("")}${caption}</g>`;
}

/** An `<svg>` for one plot, with its kind and title for readers and tests. */
export function svg(kind: string, title: string, frame: Frame, body: string): string {
  return `<figure class="plot"><figcaption>${esc(title)}</figcaption><svg class="chart" data-plot="${esc(kind)}" role="img" aria-label="${esc(title)}" viewBox="0 0 ${frame.width} ${frame.height}" width="${frame.width}" height="${frame.height}">${body}</svg></figure>`;
}

const threeDigits = new Intl.NumberFormat("en-US", { maximumSignificantDigits: 3 });

/** A figure with three significant digits and thousands separators: 0.123, 12.3, 1,230. */
export function short(value: number): string {
  return threeDigits.format(value);
}
