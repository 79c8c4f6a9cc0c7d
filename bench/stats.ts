// Summary statistics for latency samples (milliseconds) and repeated timings.

export interface LatencySummary {
  count: number;
  p50: number;
  p99: number;
  max: number;
}

/** Nearest-rank percentile of an ascending array; NaN when empty. */
export function percentile(sorted: ArrayLike<number>, fraction: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil(fraction * sorted.length) - 1;
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank))];
}

export function summarize(samples: ArrayLike<number>): LatencySummary {
  const sorted = Float64Array.from(samples).sort();
  return {
    count: sorted.length,
    p50: percentile(sorted, 0.5),
    p99: percentile(sorted, 0.99),
    max: sorted.length ? sorted[sorted.length - 1] : Number.NaN,
  };
}

export function median(samples: ArrayLike<number>): number {
  return percentile(Float64Array.from(samples).sort(), 0.5);
}

/** Bounded collector: keeps the first `capacity` samples, counts the rest. */
export function createSamples(capacity: number): { add(sample: number): void; values(): Float64Array; dropped(): number } {
  const buffer = new Float64Array(capacity);
  let length = 0;
  let dropped = 0;
  return {
    add(sample) {
      if (length < capacity) buffer[length++] = sample;
      else dropped++;
    },
    values: () => buffer.subarray(0, length),
    dropped: () => dropped,
  };
}
