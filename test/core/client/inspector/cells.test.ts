// The inspector's typed cells: what each kind of cell shows, and what an edit in a chosen type reads.
import { describe, expect, it } from "vitest";
import { CellInputError, editText, formatCell, parseCell } from "../../../../client/inspector/cells.ts";

describe("inspector cells", () => {
  it.each([
    ["5", '"5"', "string"],
    [5, "5", "number"],
    ["null", '"null"', "string"],
    [null, "null", "null"],
    [true, "true", "boolean"],
    ["true", '"true"', "string"],
    [{ a: [1] }, '{"a":[1]}', "json"],
    [[1, "x"], '[1,"x"]', "json"],
  ])("shows %j as %s, of kind %s", (cell, text, kind) => {
    expect(formatCell(cell)).toEqual({ text, kind });
  });

  it.each([
    ["string", "5", "5"],
    ["number", " 5.5 ", 5.5],
    ["boolean", "TRUE", true],
    ["boolean", "false", false],
    ["null", "anything", null],
    ["json", '{"a":[1,null]}', { a: [1, null] }],
    ["json", "[]", []],
  ] as const)("reads %s %j as %j", (kind, text, value) => {
    expect(parseCell(kind, text)).toEqual(value);
  });

  it.each([
    ["number", ""],
    ["number", "five"],
    ["number", "Infinity"],
    ["boolean", "yes"],
    ["json", "{"],
    ["json", "5"],
    ["json", "null"],
  ] as const)("refuses %s %j with a reason", (kind, text) => {
    expect(() => parseCell(kind, text)).toThrow(CellInputError);
  });

  it("starts an editor with strings unquoted and the rest as JSON", () => {
    expect([editText("a b"), editText(5), editText(null), editText({ a: 1 }), editText(undefined)]).toEqual(["a b", "5", "null", '{"a":1}', ""]);
  });
});
