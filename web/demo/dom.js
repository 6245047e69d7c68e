// Small DOM helpers shared by the page's modules.

export const $ = (id) => document.getElementById(id);

/** Writes text only when it changed: even an unchanged write costs a layout. */
export function setText(element, text) {
  if (element.textContent !== text) element.textContent = text;
}
