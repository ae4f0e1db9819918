/**
 * Just enough PromQL reading for the observability tests: the vector selectors an
 * expression reads, so a test can prove each one matches real series (a misspelt metric
 * or label value makes a panel or an alert silently empty, never an error).
 */

const KEYWORDS = new Set([
  "by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless", "bool",
  "offset", "atan2", "inf", "nan",
]);
/** Keywords followed by a parenthesised label list, not by an expression. */
const LABEL_LIST_KEYWORDS = new Set(["by", "without", "on", "ignoring", "group_left", "group_right"]);

/**
 * The vector selectors in `expr`, as written (`name{matchers}` or `name`), in order of
 * appearance and without duplicates. Function and aggregation names, keywords, label
 * lists, durations, numbers and string arguments are skipped.
 */
export function vectorSelectors(expr: string): string[] {
  const found: string[] = [];
  let i = 0;
  const skipString = (): void => {
    const quote = expr[i]!;
    i++;
    while (i < expr.length && expr[i] !== quote) i += expr[i] === "\\" ? 2 : 1;
    i++;
  };
  const skipSpace = (): void => {
    while (i < expr.length && /\s/.test(expr[i]!)) i++;
  };
  /** Reads from `{` to the matching `}`, quotes respected, and returns the text. */
  const readBraces = (): string => {
    const start = i;
    while (i < expr.length && expr[i] !== "}") {
      if (expr[i] === '"' || expr[i] === "'" || expr[i] === "`") skipString();
      else i++;
    }
    i++;
    return expr.slice(start, i);
  };
  while (i < expr.length) {
    const c = expr[i]!;
    if (c === '"' || c === "'" || c === "`") {
      skipString();
    } else if (c === "[") {
      // Range or subquery duration: [1m], [$__rate_interval], [5m:30s].
      while (i < expr.length && expr[i] !== "]") i++;
      i++;
    } else if (c === "#") {
      while (i < expr.length && expr[i] !== "\n") i++;
    } else if (/[0-9.]/.test(c)) {
      // Numbers and durations (1e3, 0.5, 5m): read the whole token.
      while (i < expr.length && /[\w.]/.test(expr[i]!)) i++;
    } else if (/[a-zA-Z_:]/.test(c)) {
      const start = i;
      while (i < expr.length && /[\w:]/.test(expr[i]!)) i++;
      const name = expr.slice(start, i);
      skipSpace();
      const next = expr[i];
      if (KEYWORDS.has(name.toLowerCase())) {
        if (LABEL_LIST_KEYWORDS.has(name) && next === "(") {
          while (i < expr.length && expr[i] !== ")") i++;
          i++;
        } else if (name === "offset") {
          while (i < expr.length && /[\w\s]/.test(expr[i]!)) i++;
        }
      } else if (next === "(") {
        // A function or an aggregation: its arguments are read by the main loop.
      } else if (/^(sum|min|max|avg|count|stddev|stdvar|topk|bottomk|quantile|count_values|group)$/.test(name)) {
        // `sum by (x) (...)`: the aggregation keyword before its modifier.
      } else {
        const matchers = next === "{" ? readBraces() : "";
        const selector = name + matchers;
        if (!found.includes(selector)) found.push(selector);
      }
    } else if (c === "{") {
      const selector = readBraces();
      if (!found.includes(selector)) found.push(selector);
    } else {
      i++;
    }
  }
  return found;
}

/** The metric name of a selector as returned by {@link vectorSelectors}. */
export function metricName(selector: string): string {
  const brace = selector.indexOf("{");
  if (brace !== 0) return brace < 0 ? selector : selector.slice(0, brace);
  const match = /__name__\s*=\s*"([^"]+)"/.exec(selector);
  return match ? match[1]! : "";
}
