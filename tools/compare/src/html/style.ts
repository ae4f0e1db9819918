/** The report's stylesheet, inlined into the page: Grafana's dark theme, so the colours read as they do there. */
export const STYLE = `
:root { color-scheme: dark; }
body { margin: 0 auto; max-width: 1180px; padding: 20px 24px 40px; background: #111217; color: #ccccdc; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
h1 { font-size: 22px; margin: 0 0 10px; color: #fff; }
h2 { font-size: 17px; margin: 26px 0 8px; color: #fff; }
.facts { display: grid; grid-template-columns: max-content 1fr; gap: 2px 14px; margin: 0; }
.facts dt { color: #8e8e9e; }
.facts dd { margin: 0; overflow-wrap: anywhere; }
.plots { display: grid; grid-template-columns: repeat(2, minmax(0, 1fr)); gap: 12px; }
.plot { margin: 0; background: #181b1f; border: 1px solid #2c3235; border-radius: 4px; padding: 8px; }
.plot figcaption { font-weight: 600; color: #d8d9da; margin: 0 0 4px 4px; }
.chart { width: 100%; height: auto; display: block; font-size: 12px; }
.chart text { fill: #ccccdc; }
.chart .tick, .chart .axis-title { fill: #8e8e9e; }
.chart .value { font-size: 11px; }
.chart .missing { fill: #8e8e9e; }
.chart .grid { stroke: #2c3235; }
.chart .axis { stroke: #5a5f66; }
table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; }
th, td { padding: 4px 8px; border-bottom: 1px solid #2c3235; text-align: left; white-space: nowrap; }
th { color: #8e8e9e; font-weight: 500; }
td.num { text-align: right; }
td.fail { color: #F2495C; font-weight: 700; }
td.unknown { color: #FADE2A; }
.banner { padding: 8px 12px; border-radius: 4px; font-weight: 600; margin: 0 0 8px; }
.banner.pass { background: #1a3a1f; color: #73BF69; }
.banner.fail { background: #4a1a20; color: #F2495C; }
.banner.unknown { background: #4a4210; color: #FADE2A; }
.badge { font-weight: 700; text-transform: uppercase; font-size: 12px; }
.badge.pass { color: #73BF69; }
.badge.fail { color: #F2495C; }
.badge.unknown { color: #FADE2A; }
.notes li { margin: 2px 0; }
tr.flagged td { color: #FADE2A; font-weight: 600; }
.baseline code { color: #d8d9da; }
footer { margin-top: 28px; color: #8e8e9e; font-size: 12px; }
@media (max-width: 900px) { .plots { grid-template-columns: 1fr; } }
`;
