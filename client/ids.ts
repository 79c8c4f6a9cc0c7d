// Message and subscription ids. `crypto.randomUUID` exists only in secure contexts (https, localhost),
// so a page served over plain http from a LAN address falls back to getRandomValues, which exists
// everywhere (as PartySocket does for its connection id).
export const newId = (): string => {
  if (typeof crypto.randomUUID === "function") return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join("");
};
