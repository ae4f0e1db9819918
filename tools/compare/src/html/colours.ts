/**
 * Grafana's named colours (its dark-theme palette) that the switchyard dashboard's
 * overrides use, so a transport or a side looks the same in the report as in Grafana.
 */
export const GRAFANA_COLOURS: Record<string, string> = {
  blue: "#5794F2",
  "light-blue": "#8AB8FF",
  green: "#73BF69",
  "light-green": "#96D98D",
  orange: "#FF9830",
  purple: "#B877D9",
  yellow: "#FADE2A",
  red: "#F2495C",
};

/**
 * Each series name's colour on the dashboard (charts/switchyard/files/dashboards/
 * switchyard.json, its `byRegexp` overrides): transports and the three sides of a
 * message. A test holds the two in step.
 */
export const SERIES_COLOUR_NAMES: Record<string, string> = {
  grpc: "blue",
  connect: "green",
  amqp: "orange",
  grpc_web: "light-blue",
  connect_proto: "light-green",
  handler: "purple",
  producer: "yellow",
  rabbitmq: "red",
};

/** A series' colour as CSS: the dashboard's for known names, grey otherwise. */
export function seriesColour(name: string): string {
  return GRAFANA_COLOURS[SERIES_COLOUR_NAMES[name] ?? ""] ?? "#9FA7B3";
}
