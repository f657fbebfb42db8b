// Log-in: the API answers with the user's role and the token's expiry.
import { h, field } from '../lib/dom.js';
import { clearErrors, showError } from '../lib/api.js';
import { sessionFromLogin } from '../lib/session.js';

export function mount(ctx, container) {
  const { api, health, message } = ctx;
  const username = field('User name', { name: 'username', required: true, autocomplete: 'username' });
  const password = field('Password', { name: 'password', type: 'password', required: true, autocomplete: 'current-password' });
  const formError = h('p', { class: 'form-error', role: 'alert' });
  const submit = h('button', { type: 'submit' }, 'Log in');
  const fields = { username: username.error, password: password.error };
  const form = h(
    'form',
    { class: 'card narrow', 'aria-labelledby': 'login-title', novalidate: true },
    h('h1', { id: 'login-title' }, 'Log in'),
    h('p', { class: 'muted' }, `Server ${health.name} · ${location.origin}`),
    message ? h('p', { class: 'notice', role: 'status' }, message) : null,
    username.wrap, password.wrap, formError,
    h('div', { class: 'actions' }, submit),
  );
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    clearErrors(fields, formError);
    submit.disabled = true;
    try {
      const answer = await api.post('/api/v1/auth/login', {
        username: username.input.value,
        password: password.input.value,
      });
      ctx.onDone(sessionFromLogin(answer, username.input.value));
    } catch (error) {
      // a wrong password is about the password field
      if (error.status === 401) password.error.textContent = error.reason;
      else showError(error, fields, formError);
    } finally {
      submit.disabled = false;
    }
  });
  container.append(form);
  username.input.focus();
  return () => {};
}
