// The storage layout. Every key starts with the room's `storagePrefix` (P); ids are written as JSON
// strings, so that no id can run into the next part of a key; seqs are 16 zero-padded digits, so
// that key order is seq order.
//
//   P m                               meta: { head, storeSeq, created }: log head, seq of the last
//                                     $store event, whether a store exists
//   P c "t","r","c"                   one cell (the value as TinyBase holds it)
//   P v "id"                          one value
//   P e <seq>                         one event, as its JSON text; a text longer than one storage
//                                     value holds the number of chunks instead, and the chunks
//                                     follow at P e <seq> . <k>
//   P i "stream""id"                  the seq of the event a producer gave that id in that stream
//   P y "type" <seq>                  index: an event of that type
//   P s "stream" <seq>                index: an event of that stream   } not for $store events: their
//   P z "stream""type" <seq>          index: that stream and type      } $-types are theirs alone
//   P k                               the store snapshot's header { seq, chunks } (log/snapshot.ts)
//   P k.<i>                           chunk i of the snapshot's JSON
//   P f                               the base: { seq, chunks, created }, the store as of seq
//                                     first-1, kept by retention once it trims (log/base.ts)
//   P f.<i>                           chunk i of the base's JSON
//   P t <seq>                         a checkpoint: { chunks, created }, the store as of that
//                                     $store seq, written as the log grows (log/checkpoints.ts)
//   P t.<seq>.<i>                     chunk i of that checkpoint's JSON ("." sorts before every
//                                     digit, so a range of headers holds no chunk)
//   P ar "t","r" <seq> "c"            audit: the value a $store event gave the cell (null: deleted);
//                                     a cell's history is read from its row's (log/reads.ts)
//   P av "id" <seq>                   audit: the value a $store event gave a value (null: deleted)
//   P am "mid"                        the seqs a WebSocket append with that message id was given
//                                     (its own key space: producer ids never meet it); inside the
//                                     audit range, so that retention's sweep drops it once every
//                                     one of those seqs is trimmed
//   P ac "t","r","c" <seq>            a per-cell audit index that earlier versions wrote; no longer
//                                     written or read, and swept by retention with the audit range
//   P hc / P hv / P hl                synchronizer stamps of cells and values, and the latest of
//                                     them (sync/stamps.ts)
//   P $d                              what the party's directory last acknowledged of the room, and
//                                     its name (directory/reporter.ts)
//
// One change writes its cells, one event, its index entries, its audit entries and the meta key:
// work proportional to the change, never to the store.

/** Digits of a seq in a key: enough for every safe integer. */
const SEQ_DIGITS = 16;

export const seqKey = (seq: number): string => String(seq).padStart(SEQ_DIGITS, "0");

export const createKeys = (prefix: string) => {
  const seqRange = (base: string) => ({
    at: (seq: number) => base + seqKey(seq),
    /** Range of [from, to] seqs, both included. */
    range: (from: number, to: number) => ({ start: base + seqKey(from), end: base + seqKey(to + 1) }),
    seqOf: (key: string) => Number(key.slice(base.length, base.length + SEQ_DIGITS)),
  });
  const path = (ids: string[]) => JSON.stringify(ids).slice(1, -1);
  return {
    meta: prefix + "m",
    cells: prefix + "c",
    values: prefix + "v",
    cell: (tableId: string, rowId: string, cellId: string) => prefix + "c" + path([tableId, rowId, cellId]),
    value: (valueId: string) => prefix + "v" + JSON.stringify(valueId),
    /** Parses a cell key back into its ids; undefined if the key is not one. */
    cellIds: (key: string): [string, string, string] | undefined => {
      const ids: unknown = JSON.parse("[" + key.slice(prefix.length + 1) + "]");
      return Array.isArray(ids) && ids.length === 3 ? (ids as [string, string, string]) : undefined;
    },
    valueId: (key: string): string => JSON.parse(key.slice(prefix.length + 1)) as string,
    events: seqRange(prefix + "e"),
    eventChunk: (seq: number, index: number) => prefix + "e" + seqKey(seq) + "." + index,
    snapshot: prefix + "k",
    snapshotChunk: (index: number) => prefix + "k." + index,
    base: prefix + "f",
    baseChunk: (index: number) => prefix + "f." + index,
    checkpoints: seqRange(prefix + "t"),
    checkpointChunk: (seq: number, index: number) => prefix + "t." + seqKey(seq) + "." + index,
    eventId: (stream: string, id: string) => prefix + "i" + JSON.stringify(stream) + JSON.stringify(id),
    byStream: (stream: string) => seqRange(prefix + "s" + JSON.stringify(stream)),
    byType: (type: string) => seqRange(prefix + "y" + JSON.stringify(type)),
    byStreamType: (stream: string, type: string) => seqRange(prefix + "z" + JSON.stringify(stream) + JSON.stringify(type)),
    rowHistory: (tableId: string, rowId: string) => seqRange(prefix + "ar" + path([tableId, rowId])),
    rowCell: (tableId: string, rowId: string, seq: number, cellId: string) =>
      prefix + "ar" + path([tableId, rowId]) + seqKey(seq) + JSON.stringify(cellId),
    valueHistory: (valueId: string) => seqRange(prefix + "av" + JSON.stringify(valueId)),
    messageId: (mid: string) => prefix + "am" + JSON.stringify(mid),
    messageIds: prefix + "am",
    /** All audit keys lie in [auditStart, auditEnd). */
    auditStart: prefix + "a",
    auditEnd: prefix + "b",
    /** The seq in an audit key: before the cell id in a row entry, last elsewhere. */
    auditSeqOf: (key: string): number => {
      const digits = key[prefix.length + 1] === "r" ? key.match(/(\d{16})"(?:[^"\\]|\\.)*"$/)?.[1] : key.slice(-SEQ_DIGITS);
      return Number(digits);
    },
  };
};

export type Keys = ReturnType<typeof createKeys>;
