// First start on an undefined server: create a system (its name and the owner's
// account), or see the systems on the network that could add this server.
import { h, field } from '../lib/dom.js';
import { clearErrors, showError } from '../lib/api.js';
import { sessionFromLogin } from '../lib/session.js';

const DISCOVERY_EVERY_MS = 3000;

export function mount(ctx, container) {
  const { api, health } = ctx;
  const systemName = field('System name', { name: 'system_name', required: true, maxlength: 64, autocomplete: 'off' });
  const owner = field('Owner user name', { name: 'username', required: true, value: 'owner', autocomplete: 'username' });
  const password = field('Owner password (at least 8 characters)', {
    name: 'password', type: 'password', required: true, minlength: 8, autocomplete: 'new-password',
  });
  const repeat = field('Repeat the password', { type: 'password', required: true, autocomplete: 'new-password' });
  const formError = h('p', { class: 'form-error', role: 'alert' });
  const submit = h('button', { type: 'submit' }, 'Set up system');
  const fields = {
    system_name: systemName.error,
    'owner.username': owner.error,
    'owner.password': password.error,
  };

  const form = h(
    'form',
    { class: 'card', 'aria-labelledby': 'setup-title', novalidate: true },
    h('h2', { id: 'setup-title' }, 'Set up a new system'),
    h('p', {}, 'This server belongs to no system yet. Create one: this server becomes its first server and you its owner.'),
    systemName.wrap, owner.wrap, password.wrap, repeat.wrap, formError,
    h('div', { class: 'actions' }, submit),
  );
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    clearErrors(fields, formError);
    repeat.error.textContent = '';
    if (password.input.value !== repeat.input.value) {
      repeat.error.textContent = 'the two passwords differ';
      repeat.input.focus();
      return;
    }
    submit.disabled = true;
    try {
      await api.post('/api/v1/system/setup', {
        system_name: systemName.input.value,
        owner: { username: owner.input.value, password: password.input.value },
      });
      const login = await api.post('/api/v1/auth/login', {
        username: owner.input.value,
        password: password.input.value,
      });
      ctx.onDone(sessionFromLogin(login, owner.input.value));
    } catch (error) {
      showError(error, fields, formError);
    } finally {
      submit.disabled = false;
    }
  });

  const systemsList = h('ul', { class: 'plain', id: 'discovered-systems' });
  const joinCard = h(
    'section',
    { class: 'card', 'aria-labelledby': 'join-title' },
    h('h2', { id: 'join-title' }, 'Or join a system on this network'),
    h(
      'p',
      {},
      'A system adds this server with its owner’s password: open one of its servers, go to Servers and choose Add next to ',
      h('strong', {}, health.name || 'this server'),
      '.',
    ),
    systemsList,
  );

  container.append(
    h('h1', {}, 'Welcome to camkeep'),
    h('p', { class: 'muted' }, `Server ${health.name} · ${location.origin}`),
    h('div', { class: 'columns' }, form, joinCard),
  );
  systemName.input.focus();

  let stopped = false;
  let timer = null;
  const refresh = async () => {
    try {
      const systems = await api.get('/api/v1/system/discovered');
      systemsList.replaceChildren();
      if (systems.length === 0) systemsList.append(h('li', { class: 'muted' }, 'No system seen on this network yet.'));
      for (const system of systems) {
        const servers = system.servers.map((server) =>
          h('li', {}, h('a', { href: `${server.url.replace(/\/$/, '')}/#/servers` }, `Open ${server.name}`), ` (${server.url})`),
        );
        systemsList.append(h('li', {}, h('span', {}, `System ${system.system_id.slice(0, 8)}`), h('ul', {}, servers)));
      }
    } catch {
      // set up meanwhile, or the node is busy: try again later
    }
    if (!stopped) timer = setTimeout(refresh, DISCOVERY_EVERY_MS);
  };
  refresh();
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}
