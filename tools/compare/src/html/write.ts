import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { renderHtml, type HtmlExtras } from "./render-html.ts";
import { parseReport } from "./report-data.ts";

/**
 * Writes `report.html` beside the `report.json` in `dir`, from that file alone, so the
 * page shows exactly what the JSON holds. Returns the page's path.
 */
export function writeHtmlReport(dir: string, extras: HtmlExtras = {}): string {
  const path = join(dir, "report.html");
  writeFileSync(path, renderHtml(parseReport(readFileSync(join(dir, "report.json"), "utf8")), extras));
  return path;
}
