// What the room holds for its readers, in bytes: every queue with a byte budget (SSE streams,
// subscriptions) registers how much it holds now. Tests and the benchmark read the total.

export interface MemoryGauge {
  /** Counts `held` (bytes held now) until the returned function is called. */
  track(held: () => number): () => void;
  /** Bytes held by every tracked queue now, and the largest one. */
  heldBytes(): { total: number; largest: number; readers: number };
}

export const createMemoryGauge = (): MemoryGauge => {
  const sources = new Set<() => number>();
  return {
    track(held) {
      const source = () => held();
      sources.add(source);
      return () => void sources.delete(source);
    },
    heldBytes() {
      let total = 0;
      let largest = 0;
      for (const source of sources) {
        const bytes = source();
        total += bytes;
        largest = Math.max(largest, bytes);
      }
      return { total, largest, readers: sources.size };
    },
  };
};
