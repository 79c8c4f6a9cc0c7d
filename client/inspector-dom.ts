// DOM helpers the inspector's modules share.

export const element = <K extends keyof HTMLElementTagNameMap>(tag: K, className = "", text = ""): HTMLElementTagNameMap[K] => {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text) node.textContent = text;
  return node;
};

export const byId = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;
