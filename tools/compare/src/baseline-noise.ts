import { durationMs } from "@bufbuild/protobuf/wkt";
import { PhaseState, type Run } from "@switchyard/contracts";

/** How steady one phase's throughput was across its own measured window. */
export interface PhaseNoise {
  transport: string;
  payloadBytes: number;
  /** Successful sends per second in each sub-window, in order. */
  windows: number[];
  /**
   * Relative spread of the sub-windows' throughput: their standard deviation over their
   * mean. Undefined with fewer than 3 sub-windows (a phase too short to tell).
   */
  relativeSpread: number | undefined;
}

/** The shortest sub-window kept: shorter ones are dominated by when the update arrived. */
const MIN_WINDOW_MS = 200;

/**
 * Measures each phase's noise from the progress updates compare already receives
 * (about two a second): between two updates of a measuring phase, the successful sends
 * it added over the measured time it added give one sub-window's throughput. Both come
 * from the producer's own clock (the phase's elapsed window and throughput), so the
 * updates' arrival times do not matter.
 */
export class NoiseSampler {
  readonly #last = new Map<number, { elapsedMs: number; ok: number }>();
  readonly #windows = new Map<number, number[]>();
  readonly #phases = new Map<number, { transport: string; payloadBytes: number }>();

  /** Takes one progress update of the run. */
  observe(run: Run): void {
    run.phases.forEach((phase, index) => {
      if (phase.state !== PhaseState.MEASURING || !phase.elapsed) return;
      this.#phases.set(index, { transport: phase.transport, payloadBytes: phase.payloadBytes });
      const elapsedMs = durationMs(phase.elapsed);
      const ok = (phase.throughput * elapsedMs) / 1000;
      const last = this.#last.get(index);
      if (last === undefined) {
        this.#last.set(index, { elapsedMs, ok });
        return;
      }
      if (elapsedMs - last.elapsedMs < MIN_WINDOW_MS) return;
      const windows = this.#windows.get(index) ?? [];
      windows.push(((ok - last.ok) * 1000) / (elapsedMs - last.elapsedMs));
      this.#windows.set(index, windows);
      this.#last.set(index, { elapsedMs, ok });
    });
  }

  /** Each phase seen measuring, in run order, with its sub-windows and spread. */
  result(): PhaseNoise[] {
    return [...this.#phases].sort(([a], [b]) => a - b).map(([index, phase]) => {
      const windows = this.#windows.get(index) ?? [];
      return { ...phase, windows, relativeSpread: relativeSpread(windows) };
    });
  }
}

/** Standard deviation over mean, for 3 or more values with a positive mean. */
export function relativeSpread(values: readonly number[]): number | undefined {
  if (values.length < 3) return undefined;
  const mean = values.reduce((sum, value) => sum + value, 0) / values.length;
  if (mean <= 0) return undefined;
  const variance = values.reduce((sum, value) => sum + (value - mean) ** 2, 0) / (values.length - 1);
  return Math.sqrt(variance) / mean;
}
