/**
 * Estimates a quantile from per-bucket counts (not cumulative) by linear interpolation
 * inside the bucket it falls in, as PromQL's histogram_quantile does. `bounds` are the
 * ascending upper bounds; `counts` has one more entry, for values above the last bound.
 * A quantile falling there reports the highest bound.
 */
export function bucketQuantile(q: number, bounds: readonly number[], counts: readonly number[]): number {
  const total = counts.reduce((sum, count) => sum + count, 0);
  if (total <= 0) return 0;
  const rank = q * total;
  let below = 0;
  for (let i = 0; i < counts.length; i++) {
    const inBucket = counts[i]!;
    if (below + inBucket >= rank && inBucket > 0) {
      if (i >= bounds.length) return bounds.at(-1) ?? 0;
      const lower = i === 0 ? 0 : bounds[i - 1]!;
      return lower + ((bounds[i]! - lower) * (rank - below)) / inBucket;
    }
    below += inBucket;
  }
  return bounds.at(-1) ?? 0;
}
