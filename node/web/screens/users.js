// Users: owner, admins and viewers; an admin adds admins and viewers.
import { h, field } from '../lib/dom.js';
import { clearErrors, showError } from '../lib/api.js';
import { confirmModal } from '../lib/modal.js';

export function mount(ctx, container) {
  const { api } = ctx;
  const body = h('tbody');
  const username = field('User name', { autocomplete: 'off' });
  const password = field('Password (at least 8 characters)', { type: 'password', autocomplete: 'new-password' });
  const role = field('Role', { value: 'viewer' }, { tag: 'select', options: [['viewer', 'Viewer: live and playback'], ['admin', 'Admin: everything but detaching servers']] });
  const formError = h('p', { class: 'form-error', role: 'alert' });
  const submit = h('button', { type: 'submit' }, 'Add user');
  const fields = { username: username.error, password: password.error, role: role.error };
  const form = h('form', { class: 'card', novalidate: true, 'aria-labelledby': 'add-user-title' },
    h('h2', { id: 'add-user-title' }, 'Add a user'), username.wrap, password.wrap, role.wrap, formError,
    h('div', { class: 'actions' }, submit));
  container.append(
    h('div', { class: 'table-wrap' }, h('table', { id: 'users-table' },
      h('caption', { class: 'sr-only' }, 'Users of this system'),
      h('thead', {}, h('tr', {}, ['User', 'Role', 'Created', ''].map((t) => h('th', { scope: 'col' }, t)))),
      body)),
    form,
  );

  async function load() {
    try {
      const users = await api.get('/api/v1/users');
      body.replaceChildren(...users.map((user) => h('tr', {},
        h('th', { scope: 'row' }, user.username),
        h('td', {}, user.role),
        h('td', {}, user.created_at ? new Date(user.created_at).toLocaleString() : '–'),
        h('td', {}, user.role === 'owner' || user.username === ctx.session.username ? null
          : h('button', { type: 'button', class: 'danger', 'aria-label': `Delete ${user.username}`, onclick: () => remove(user) }, 'Delete')))));
    } catch {
      // the banner says when the node is gone
    }
  }

  async function remove(user) {
    if (!(await confirmModal(`Delete ${user.username}?`, 'They can no longer log in.', 'Delete'))) return;
    try {
      await api.delete(`/api/v1/users/${encodeURIComponent(user.username)}`);
    } catch (error) {
      await confirmModal('Could not delete', error.reason || error.message);
    }
    load();
  }

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    clearErrors(fields, formError);
    submit.disabled = true;
    try {
      await api.post('/api/v1/users', { username: username.input.value, password: password.input.value, role: role.input.value });
      username.input.value = '';
      password.input.value = '';
      load();
    } catch (error) {
      showError(error, fields, formError);
    } finally {
      submit.disabled = false;
    }
  });
  load();
  return () => {};
}
