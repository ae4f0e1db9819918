/** One reading of a process's resident memory, `seconds` into a steady run. */
export interface RssSample {
  seconds: number;
  rssBytes: number;
}

/** How a process's RSS moved over the last part of a steady run. */
export interface Growth {
  /** Least-squares slope over the window, MiB per minute. */
  mibPerMinute: number;
  /** The window fitted: samples from `fromSeconds` to the end. */
  fromSeconds: number;
  toSeconds: number;
  /** Mean RSS over the window, MiB. */
  meanMib: number;
  /** The fitted rise across the window, MiB (slope × window length). */
  riseMib: number;
  /** `steady` when the rise is under `tolerance` of the mean, else `grows` (or `shrinks`). */
  verdict: "steady" | "grows" | "shrinks";
}

const MIB = 1024 * 1024;

/**
 * Fits a line to the samples taken in the last `windowSeconds` of the run and judges
 * it: a rise (or fall) across the window of less than `tolerance` of the mean RSS is
 * steady. Early samples are left out on purpose: a service's heap grows while its
 * bounded caches (dedupe ids, ledger runs) fill, and only what follows says whether it
 * keeps growing. Undefined with fewer than 3 samples in the window.
 */
export function growth(samples: readonly RssSample[], windowSeconds: number, tolerance = 0.02): Growth | undefined {
  if (samples.length === 0) return undefined;
  const end = samples.at(-1)!.seconds;
  const window = samples.filter((sample) => sample.seconds >= end - windowSeconds);
  if (window.length < 3) return undefined;
  const n = window.length;
  const meanX = window.reduce((sum, s) => sum + s.seconds, 0) / n;
  const meanY = window.reduce((sum, s) => sum + s.rssBytes, 0) / n;
  let covariance = 0;
  let variance = 0;
  for (const s of window) {
    covariance += (s.seconds - meanX) * (s.rssBytes - meanY);
    variance += (s.seconds - meanX) ** 2;
  }
  const bytesPerSecond = variance > 0 ? covariance / variance : 0;
  const fromSeconds = window[0]!.seconds;
  const riseMib = (bytesPerSecond * (end - fromSeconds)) / MIB;
  const meanMib = meanY / MIB;
  const verdict = Math.abs(riseMib) < tolerance * meanMib ? "steady" : riseMib > 0 ? "grows" : "shrinks";
  return { mibPerMinute: (bytesPerSecond * 60) / MIB, fromSeconds, toSeconds: end, meanMib, riseMib, verdict };
}
