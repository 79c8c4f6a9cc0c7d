// Progress of a long transfer on stderr: count, rate and time left, redrawn in place on one line,
// and only when stderr is a terminal (a pipe or a log file gets nothing). A few lines of our own
// rather than a progress library: one line with three figures needs no dependency.
import type { WriteStream } from "node:tty";

/** How often the line is redrawn. */
const REDRAW_MS = 200;

export interface Progress {
  /** Sets the expected total once it is known (an export's header says it). */
  total(count: number): void;
  add(count: number): void;
  /** Draws the last state and ends the line. */
  done(): void;
}

const number = (value: number) => Math.round(value).toLocaleString("en-US");

const duration = (seconds: number): string => {
  if (!Number.isFinite(seconds)) return "?";
  const s = Math.max(0, Math.round(seconds));
  return s >= 3600 ? `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m` : s >= 60 ? `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s` : `${s}s`;
};

/** `verb` names what is counted: "exported", "imported". */
export const createProgress = (verb: string, stream: NodeJS.WriteStream = process.stderr, now = () => performance.now()): Progress => {
  const tty = stream.isTTY ? (stream as WriteStream) : undefined;
  const started = now();
  let count = 0;
  let expected: number | undefined;
  // The first line after REDRAW_MS: a rate from the first few events says nothing yet.
  let drawn = started;
  const draw = () => {
    if (!tty) return;
    const seconds = (now() - started) / 1000;
    const rate = seconds > 0 ? count / seconds : 0;
    const of = expected === undefined ? "" : ` / ${number(expected)}`;
    const left = expected === undefined || rate === 0 ? "" : `  ETA ${duration((expected - count) / rate)}`;
    tty.cursorTo(0);
    tty.write(`${verb} ${number(count)}${of} events  ${number(rate)}/s${left}`);
    tty.clearLine(1);
    drawn = now();
  };
  return {
    total(value) {
      expected = value;
    },
    add(value) {
      count += value;
      if (now() - drawn >= REDRAW_MS) draw();
    },
    done() {
      draw();
      if (tty) tty.write("\n");
    },
  };
};
