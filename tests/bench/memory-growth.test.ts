import { describe, expect, it } from "vitest";
import { growth } from "../../bench/memory/growth.ts";

const MIB = 1024 * 1024;
const samples = (values: number[], every = 5) => values.map((mib, index) => ({ seconds: index * every, rssBytes: mib * MIB }));

describe("growth (bench:memory's verdict)", () => {
  it("fits only the last window: a rise while caches fill, then flat, is steady", () => {
    const fit = growth(samples([100, 120, 140, 160, 160, 160, 161, 160, 160, 161]), 20)!;
    expect(fit.fromSeconds).toBe(25);
    expect(fit.verdict).toBe("steady");
    expect(Math.abs(fit.mibPerMinute)).toBeLessThan(3);
  });

  it("calls a steady climb growth, with its slope in MiB per minute", () => {
    // 1 MiB every 5 s: 12 MiB per minute.
    const fit = growth(samples([100, 101, 102, 103, 104, 105, 106, 107]), 35)!;
    expect(fit.verdict).toBe("grows");
    expect(fit.mibPerMinute).toBeCloseTo(12, 6);
    expect(fit.riseMib).toBeCloseTo(7, 6);
  });

  it("says shrinks for a falling line, and nothing from fewer than 3 samples", () => {
    expect(growth(samples([200, 190, 180, 170]), 15)!.verdict).toBe("shrinks");
    expect(growth(samples([100, 200]), 60)).toBeUndefined();
    expect(growth([], 60)).toBeUndefined();
  });
});
