/** The value at quantile `q` (0–1) of `sorted`, nearest rank; NaN when empty. */
export function quantile(sorted: ArrayLike<number>, q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[rank]!;
}

/** Smallest, median and largest of some samples. */
export interface Spread {
  min: number;
  median: number;
  max: number;
}

/** The {@link Spread} of `values`; NaNs when there are none. */
export function spread(values: readonly number[]): Spread {
  const sorted = [...values].sort((a, b) => a - b);
  return { min: sorted[0] ?? Number.NaN, median: quantile(sorted, 0.5), max: sorted.at(-1) ?? Number.NaN };
}

/**
 * Latencies of one measured window, in microseconds. Kept as a growable typed array so
 * recording a sample allocates nothing in the process being measured.
 */
export class Latencies {
  #values = new Float64Array(1 << 16);
  #count = 0;

  /** Records one latency in microseconds. */
  add(micros: number): void {
    if (this.#count === this.#values.length) {
      const grown = new Float64Array(this.#values.length * 2);
      grown.set(this.#values);
      this.#values = grown;
    }
    this.#values[this.#count++] = micros;
  }

  /** How many were recorded. */
  get count(): number {
    return this.#count;
  }

  /** p50 and p99 in microseconds. */
  percentiles(): { p50: number; p99: number } {
    const sorted = this.#values.slice(0, this.#count).sort();
    return { p50: quantile(sorted, 0.5), p99: quantile(sorted, 0.99) };
  }
}
