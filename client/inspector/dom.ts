// DOM helpers the inspector's modules share.

export const element = <K extends keyof HTMLElementTagNameMap>(tag: K, className = "", text = ""): HTMLElementTagNameMap[K] => {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text) node.textContent = text;
  return node;
};

export const byId = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;

const pad = (n: number, width = 2) => String(n).padStart(width, "0");

/**
 * A stored time (UTC ISO, as the room writes `ts`, `created`, `lastWrite`) in the one format the
 * inspector shows times in: local `YYYY-MM-DD HH:MM:SS.mmm`, with the stored UTC time as the
 * element's `datetime` and title.
 */
export const timeElement = (iso: string): HTMLTimeElement => {
  const at = new Date(iso);
  const text = Number.isNaN(at.getTime())
    ? iso
    : `${at.getFullYear()}-${pad(at.getMonth() + 1)}-${pad(at.getDate())} ${pad(at.getHours())}:${pad(at.getMinutes())}:${pad(at.getSeconds())}.${pad(at.getMilliseconds(), 3)}`;
  const node = element("time", "", text);
  node.dateTime = iso;
  node.title = iso;
  return node;
};
