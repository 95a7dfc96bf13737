// A server's string shown inside a third-party widget that takes HTML (Leaflet's
// tooltips and popups read a string as markup): wrapped in an element as text, so a union
// named `<img src=x onerror=…>` shows those characters and nothing else. Every place a
// server string could become HTML is listed in docs/SECURITY.md.

/** An element showing `text` as text. */
export function textElement(text: string): HTMLElement {
  const span = document.createElement("span");
  span.textContent = text;
  return span;
}
