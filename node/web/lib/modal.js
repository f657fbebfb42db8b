// One modal dialog at a time on the page's <dialog>: keyboard-usable (Escape closes
// unless the dialog says it must be answered), focus moves into it.
import { h } from './dom.js';

const dialog = () => document.getElementById('modal');

/**
 * Open a dialog: `build(close)` returns its body. Resolves with what close() got
 * (undefined on Escape). `{dismissable: false}`: Escape does nothing.
 */
export function openModal(title, build, { dismissable = true, id } = {}) {
  const element = dialog();
  if (element.open) element.close();
  return new Promise((resolve) => {
    let done = false;
    const close = (value) => {
      if (done) return;
      done = true;
      element.removeEventListener('cancel', onCancel);
      if (element.open) element.close();
      element.replaceChildren();
      resolve(value);
    };
    const onCancel = (event) => {
      event.preventDefault();
      if (dismissable) close(undefined);
    };
    element.addEventListener('cancel', onCancel);
    element.replaceChildren(h('h2', { id: 'modal-title' }, title), build(close));
    if (id) element.dataset.kind = id;
    else delete element.dataset.kind;
    element.showModal();
    const first = element.querySelector('input, select, button:not([disabled])');
    if (first) first.focus();
  });
}

export function closeModal() {
  const element = dialog();
  if (element.open) element.close();
  element.replaceChildren();
}

export function confirmModal(title, text, confirmLabel = 'OK') {
  return openModal(title, (close) =>
    h(
      'div',
      {},
      h('p', {}, text),
      h(
        'div',
        { class: 'actions' },
        h('button', { type: 'button', onclick: () => close(false) }, 'Cancel'),
        h('button', { type: 'button', class: 'danger', onclick: () => close(true) }, confirmLabel),
      ),
    ),
  );
}
