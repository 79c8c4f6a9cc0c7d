// The store a log describes: `$store` events folded over an empty store, as a reader of the log
// would rebuild it. `$init`/`$replace` data replaces the store; `$changes` data applies, with null
// for a deletion and "\uFFFDnull" for a real null.
type Content = [Record<string, Record<string, Record<string, unknown>>>, Record<string, unknown>];

const LOGGED_NULL = "\uFFFDnull";
/** Own properties only: an id like "__proto__" is an id here, as in the room. */
const own = <T>(thing: Record<string, T>, id: string, make: () => T): T => {
  if (!Object.hasOwn(thing, id)) Object.defineProperty(thing, id, { value: make(), enumerable: true, writable: true, configurable: true });
  return thing[id];
};
const set = (thing: Record<string, unknown>, id: string, value: unknown) =>
  Object.defineProperty(thing, id, { value, enumerable: true, writable: true, configurable: true });
const valueOf = (logged: unknown) => (logged === LOGGED_NULL ? null : logged);

export const foldStoreEvents = (events: { stream: string; type: string; data: any }[]): Content | undefined => {
  let content: Content | undefined;
  for (const { stream, type, data } of events) {
    if (stream !== "$store") continue;
    if (type === "$init" || type === "$replace") {
      content = structuredClone(data) as Content;
      continue;
    }
    const [tables, values] = content!;
    for (const [tableId, table] of Object.entries<any>(data[0])) {
      if (table === null) delete tables[tableId];
      else
        for (const [rowId, row] of Object.entries<any>(table)) {
          if (row === null) {
            if (Object.hasOwn(tables, tableId)) delete tables[tableId][rowId];
          }
          else
            for (const [cellId, cell] of Object.entries<any>(row)) {
              if (cell === null) {
                if (Object.hasOwn(tables, tableId) && Object.hasOwn(tables[tableId], rowId)) delete tables[tableId][rowId][cellId];
              }
              else set(own(own(tables, tableId, () => ({})), rowId, () => ({})), cellId, valueOf(cell));
            }
          if (Object.hasOwn(tables, tableId) && Object.hasOwn(tables[tableId], rowId) && Object.keys(tables[tableId][rowId]).length === 0) delete tables[tableId][rowId];
        }
      if (Object.hasOwn(tables, tableId) && Object.keys(tables[tableId]).length === 0) delete tables[tableId];
    }
    for (const [valueId, value] of Object.entries<any>(data[1])) {
      if (value === null) delete values[valueId];
      else set(values, valueId, valueOf(value));
    }
  }
  return content;
};
