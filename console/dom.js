// Builds the page from API values as text only: nothing here sets innerHTML, so a value such
// as '<img src=x onerror=alert(1)>' is shown as those characters.
'use strict';

const Dom = {
  // An element: `attrs` are attributes ("class", "id", "type", ...; "on*" are listeners);
  // children are nodes, strings or numbers (as text), null and undefined are skipped.
  el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (key.startsWith('on') && typeof value === 'function') {
        e.addEventListener(key.slice(2), value);
      } else if (value !== undefined && value !== null && value !== false) {
        e.setAttribute(key, value === true ? '' : String(value));
      }
    }
    Dom.append(e, children);
    return e;
  },
  append(parent, children) {
    for (const child of children.flat()) {
      if (child === null || child === undefined) {
        continue;
      }
      parent.appendChild(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return parent;
  },
  // Replaces the children of `parent`.
  fill(parent, ...children) {
    parent.replaceChildren();
    return Dom.append(parent, children);
  },
  // A table: `headers` are strings, each row an array of cells (strings, numbers or nodes);
  // a row may also be {cells, attrs}.
  table(headers, rows, attrs) {
    const head = Dom.el('thead', null, Dom.el('tr', null, headers.map((h) => Dom.el('th', null, h))));
    const body = Dom.el('tbody', null, rows.map((row) => {
      const cells = Array.isArray(row) ? row : row.cells;
      return Dom.el('tr', Array.isArray(row) ? null : row.attrs,
                    cells.map((c) => Dom.el('td', null, c)));
    }));
    return Dom.el('table', attrs, head, body);
  },
  card(title, ...children) {
    return Dom.el('section', {class: 'card'}, Dom.el('h2', null, title), children);
  },
  // A value of an API answer as text: objects and arrays as compact JSON.
  text(value) {
    if (value === null || value === undefined) {
      return '—';
    }
    return typeof value === 'object' ? JSON.stringify(value) : String(value);
  },
  note(text, cls) {
    return Dom.el('p', {class: cls || 'muted'}, text);
  },
  // An RFC 3339 time shown as "2026-12-02 14:40:05" in the browser's zone, the original kept
  // as the title.
  time(value) {
    if (!value) {
      return '—';
    }
    const t = new Date(value);
    if (isNaN(t)) {
      return value;
    }
    const two = (n) => String(n).padStart(2, '0');
    return Dom.el('span', {title: value, class: 'time'},
                  t.getFullYear() + '-' + two(t.getMonth() + 1) + '-' + two(t.getDate()) + ' ' +
                  two(t.getHours()) + ':' + two(t.getMinutes()) + ':' + two(t.getSeconds()));
  },
  // Saves `text` as a file named `name` (the browser's download).
  download(name, text, type) {
    const url = URL.createObjectURL(new Blob([text], {type: type || 'application/json'}));
    const a = Dom.el('a', {href: url, download: name});
    document.body.appendChild(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
  },
};
