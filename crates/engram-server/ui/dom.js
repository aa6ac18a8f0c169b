// Building the page from data without innerHTML: every string from the
// server goes in as text, so a memory's content can never become markup.

/** An element: `h('a', {href: '#/x', class: 'c'}, 'text', child)`. */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith('on')) el.addEventListener(name.slice(2), value);
    else if (name === 'value') el.value = value;
    else el.setAttribute(name, value === true ? '' : String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

/** Replaces what `el` holds. */
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

let ids = 0;

/** A labelled form control; `input` gets an id if it has none. */
export function field(label, input, hint) {
  if (!input.id) input.id = `f${++ids}`;
  const hintEl = hint ? h('span', { class: 'hint', id: `${input.id}-hint` }, hint) : null;
  if (hintEl) input.setAttribute('aria-describedby', hintEl.id);
  return h('div', { class: 'field' }, h('label', { for: input.id }, label), input, hintEl);
}

export function input(name, attrs = {}) {
  return h('input', { name, type: 'text', autocomplete: 'off', ...attrs });
}

export function select(name, options, value) {
  return h(
    'select',
    { name },
    options.map(([v, text]) => h('option', { value: v, selected: v === value }, text)),
  );
}

/** A table with a caption (for screen readers) and one header row. */
export function table(caption, columns, rows) {
  return h(
    'div',
    { class: 'table-wrap' },
    h(
      'table',
      {},
      h('caption', { class: 'sr-only' }, caption),
      h('thead', {}, h('tr', {}, columns.map((c) => h('th', { scope: 'col' }, c)))),
      // Each cell names its column, for the stacked layout of narrow screens.
      h('tbody', {}, rows.map((cells) => h('tr', {}, cells.map((c, i) => h('td', { 'data-label': columns[i] }, c))))),
    ),
  );
}

/** The form's non-empty fields, trimmed. */
export function formValues(form) {
  const out = {};
  for (const [k, v] of new FormData(form)) {
    const s = String(v).trim();
    if (s !== '') out[k] = s;
  }
  return out;
}

export function time(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  return h('time', { datetime: iso, title: iso }, d.toLocaleString());
}

export function num(x, digits = 3) {
  return x === undefined || x === null ? '—' : Number(x).toFixed(digits);
}

/** A short message read out by screen readers. */
export function announce(message, kind = 'ok') {
  const box = document.getElementById('toast');
  fill(box, message);
  box.className = `toast ${kind}`;
  clearTimeout(announce.timer);
  announce.timer = setTimeout(() => {
    box.className = 'toast';
    box.replaceChildren();
  }, 6000);
}

/** An inline error box for a failed call. */
export function errorBox(err) {
  return h('p', { class: 'error', role: 'alert' }, err.message || String(err));
}

/** Puts focus on a page's heading after navigation, for keyboard and
 * screen-reader users. */
export function focusHeading(root) {
  const heading = root.querySelector('h1');
  if (heading) {
    heading.setAttribute('tabindex', '-1');
    heading.focus();
  }
}
