// Building the page without ever parsing data as markup: every text goes in
// through textContent or a text node, so names with <, quotes or emoji show as typed.

const PROPERTIES = new Set(['value', 'checked', 'disabled', 'selected', 'hidden', 'indeterminate']);

/** h('button', {class: 'x', onclick: f}, 'text', child) -> an element. */
export function h(tag, props, ...children) {
  const element = document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (value === undefined || value === null) continue;
    if (key === 'class') element.className = value;
    else if (key.startsWith('on') && typeof value === 'function') {
      element.addEventListener(key.slice(2), value);
    } else if (key === 'dataset') Object.assign(element.dataset, value);
    else if (PROPERTIES.has(key)) element[key] = value;
    else if (value === false) continue;
    else element.setAttribute(key, value === true ? '' : String(value));
  }
  append(element, children);
  return element;
}

export function append(parent, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    parent.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return parent;
}

export function clear(element) {
  element.replaceChildren();
  return element;
}

let counter = 0;
/** A unique id for label/input pairs. */
export function uid(prefix = 'f') {
  counter += 1;
  return `${prefix}-${counter}`;
}

/** A labelled input with an error slot under it: {wrap, input, error}. */
export function field(label, inputProps = {}, { hint, tag = 'input', options } = {}) {
  const id = inputProps.id || uid();
  const errorId = `${id}-error`;
  const input = h(tag, { id, 'aria-describedby': errorId, ...inputProps });
  if (options) {
    for (const [value, text] of options) input.append(h('option', { value }, text));
    if (inputProps.value !== undefined) input.value = inputProps.value;
  }
  const error = h('p', { id: errorId, class: 'field-error', role: 'alert' });
  const wrap = h(
    'div',
    { class: 'field' },
    h('label', { for: id }, label),
    input,
    hint ? h('p', { class: 'hint' }, hint) : null,
    error,
  );
  return { wrap, input, error };
}

/** A labelled check box: {wrap, input}. */
export function checkbox(label, props = {}) {
  const id = uid();
  const input = h('input', { type: 'checkbox', id, ...props });
  return { wrap: h('div', { class: 'check' }, input, h('label', { for: id }, label)), input };
}

export function formatBytes(bytes) {
  if (bytes === null || bytes === undefined) return '–';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = Number(bytes);
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value.toFixed(value < 10 && unit > 0 ? 1 : 0)} ${units[unit]}`;
}

export function formatTime(date) {
  return date.toLocaleString(undefined, { hour12: false });
}
