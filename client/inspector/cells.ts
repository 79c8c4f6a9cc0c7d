// The inspector's typed cells: how a cell or value is shown (so that the string "5" and the number
// 5, or "null" and null, never look alike) and how an edit in a chosen type is read back. TinyBase
// 8+ cells are strings, numbers, booleans, null, objects and arrays.

export const CELL_KINDS = ["string", "number", "boolean", "null", "json"] as const;
export type CellKind = (typeof CELL_KINDS)[number];

export const kindOf = (cell: unknown): CellKind => {
  if (cell === null) return "null";
  const type = typeof cell;
  if (type === "string" || type === "number" || type === "boolean") return type;
  return "json";
};

/** The text a cell shows: strings quoted (JSON), everything else as JSON; `kind` styles it. */
export const formatCell = (cell: unknown): { text: string; kind: CellKind } => ({ text: JSON.stringify(cell) ?? "", kind: kindOf(cell) });

/** The text an editor starts with: a string as it is (no quotes), the rest as JSON. */
export const editText = (cell: unknown): string => (typeof cell === "string" ? cell : cell === undefined ? "" : JSON.stringify(cell));

export class CellInputError extends Error {}

/** Reads an editor's text in the chosen type; throws a CellInputError that says what is wrong. */
export const parseCell = (kind: CellKind, text: string): unknown => {
  switch (kind) {
    case "string":
      return text;
    case "number": {
      const number = Number(text.trim());
      if (text.trim() === "" || !Number.isFinite(number)) throw new CellInputError(`${JSON.stringify(text)} is not a finite number.`);
      return number;
    }
    case "boolean": {
      const word = text.trim().toLowerCase();
      if (word !== "true" && word !== "false") throw new CellInputError("A boolean is true or false.");
      return word === "true";
    }
    case "null":
      return null;
    case "json": {
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch {
        throw new CellInputError("Not valid JSON.");
      }
      if (typeof parsed !== "object" || parsed === null) throw new CellInputError("JSON cells are objects or arrays; pick another type for the rest.");
      return parsed;
    }
  }
};
