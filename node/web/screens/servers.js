// Servers: state (and a clock warning), load and channels of every server; undefined servers seen on the
// network with an Add dialog (the owner's password); Detach (owner only) with the
// choice of keeping or removing its cameras and a confirm button that counts down
// the 5 seconds the node makes it wait.
import { h, field, formatBytes } from '../lib/dom.js';
import { clearErrors, showError } from '../lib/api.js';
import { openModal } from '../lib/modal.js';
import { watch } from '../lib/watch.js';
import { resumeFragment } from '../lib/session.js';

const DISCOVERY_EVERY_MS = 3000;
const CONFIRM_WAIT_MS = 5000;

export function mount(ctx, container) {
  const { api } = ctx;
  const isOwner = ctx.can('owner');
  const body = h('tbody');
  const result = h('div', { id: 'detach-result', role: 'status', 'aria-live': 'polite' });
  const discoveredList = h('ul', { class: 'plain', id: 'discovered-servers' });
  const manualUrl = field('Server address (URL)', { type: 'url', placeholder: 'http://192.168.1.20:7480', name: 'url' });
  const addByUrl = h('button', { type: 'button', onclick: () => addDialog({ url: manualUrl.input.value, name: manualUrl.input.value }) }, 'Add…');

  container.append(
    h(
      'div',
      { class: 'table-wrap' },
      h(
        'table',
        { id: 'servers-table' },
        h('caption', { class: 'sr-only' }, 'Servers of this system'),
        h(
          'thead',
          {},
          h('tr', {}, ['Name', 'Address', 'State', 'CPU', 'Memory', 'Disk free', 'Network', 'Channels used', ''].map((t) => h('th', { scope: 'col' }, t))),
        ),
        body,
      ),
    ),
    result,
    h(
      'section',
      { 'aria-labelledby': 'discovered-title' },
      h('h2', { id: 'discovered-title' }, 'Servers found on this network'),
      h('p', { class: 'muted' }, 'Undefined servers: adding one needs the system owner’s user name and password.'),
      discoveredList,
      h('div', { class: 'inline-form' }, manualUrl.wrap, addByUrl),
    ),
  );

  function row(server) {
    const load = server.load || {};
    const percent = (v) => (v === undefined ? '–' : `${Number(v).toFixed(0)} %`);
    const detach = isOwner
      ? h('button', { type: 'button', class: 'danger', onclick: () => detachDialog(server) }, 'Detach…')
      : null;
    return h(
      'tr',
      { dataset: { serverId: server.id } },
      h('th', { scope: 'row' }, server.name),
      h('td', { class: 'mono' }, server.url),
      h(
        'td',
        {},
        h('span', { class: `badge state-${server.state}` }, server.state),
        // the node's words about this server's clock (skewed, refused), as text
        server.clock_warning
          ? h('div', { class: `clock-warning clock-${server.clock}`, role: 'note' }, `Clock: ${server.clock_warning}`)
          : null,
      ),
      h('td', {}, percent(load.cpu_percent)),
      h('td', {}, percent(load.memory_percent)),
      h('td', {}, load.disk_free_bytes === undefined ? '–' : formatBytes(load.disk_free_bytes)),
      h('td', {}, load.net_bytes_per_s === undefined ? '–' : `${formatBytes(load.net_bytes_per_s)}/s`),
      h('td', {}, `${server.channels_used} of ${server.licensed_channels}`),
      h('td', {}, detach),
    );
  }

  let latest = [];
  const watcher = watch(ctx, ['servers'], ({ servers }) => {
    latest = servers;
    body.replaceChildren(...servers.map(row));
  });

  let stopped = false;
  let timer = null;
  async function refreshDiscovered() {
    try {
      const found = await api.get('/api/v1/servers/discovered');
      discoveredList.replaceChildren();
      if (found.length === 0) discoveredList.append(h('li', { class: 'muted' }, 'None found.'));
      for (const server of found) {
        discoveredList.append(
          h(
            'li',
            { dataset: { serverId: server.id } },
            h('span', {}, server.name), ' ', h('span', { class: 'mono muted' }, server.url), ' ',
            ctx.can('admin') ? h('button', { type: 'button', onclick: () => addDialog(server) }, `Add ${server.name}…`) : null,
          ),
        );
      }
    } catch {
      // shown by the banner when the node is gone
    }
    if (!stopped) timer = setTimeout(refreshDiscovered, DISCOVERY_EVERY_MS);
  }
  refreshDiscovered();

  function addDialog(server) {
    return openModal(`Add server ${server.name}`, (close) => {
      const user = field('Owner user name', { value: ctx.session.role === 'owner' ? ctx.session.username : '', autocomplete: 'username' });
      const password = field('Owner password', { type: 'password', autocomplete: 'current-password' });
      const formError = h('p', { class: 'form-error', role: 'alert' });
      const submit = h('button', { type: 'submit' }, 'Add server');
      const fields = { owner_username: user.error, owner_password: password.error, url: formError };
      const form = h(
        'form',
        { novalidate: true },
        h('p', { class: 'mono' }, server.url),
        user.wrap, password.wrap, formError,
        h('div', { class: 'actions' }, h('button', { type: 'button', onclick: () => close() }, 'Cancel'), submit),
      );
      form.addEventListener('submit', async (event) => {
        event.preventDefault();
        clearErrors(fields, formError);
        submit.disabled = true;
        submit.textContent = 'Adding…';
        try {
          const added = await api.post('/api/v1/servers', {
            url: server.url,
            owner_username: user.input.value,
            owner_password: password.input.value,
          });
          result.replaceChildren(h('p', { class: 'ok' }, `Added ${added.name}.`));
          close(added);
          ctx.refreshServers();
          watcher.refresh();
          refreshDiscovered();
        } catch (error) {
          // "owner_username/owner_password: wrong ..." names both: show it at the password
          if (error.status === 401) {
            password.error.textContent = error.reason;
          } else showError(error, fields, formError);
        } finally {
          submit.disabled = false;
          submit.textContent = 'Add server';
        }
      });
      return form;
    });
  }

  function detachDialog(server) {
    return openModal(`Detach server ${server.name}`, (close) => {
      let countdown = null;
      let plan = null;
      const keep = h('input', { type: 'radio', name: 'keep', id: 'detach-keep', value: 'keep', checked: true });
      const remove = h('input', { type: 'radio', name: 'keep', id: 'detach-remove', value: 'remove' });
      const summary = h('p', { id: 'detach-summary' });
      const warnings = h('ul', { class: 'warnings', id: 'detach-warnings' });
      const formError = h('p', { class: 'form-error', role: 'alert' });
      const confirm = h('button', { type: 'submit', class: 'danger', disabled: true, id: 'detach-confirm' }, 'Detach');
      const stopCountdown = () => clearInterval(countdown);

      async function ask() {
        stopCountdown();
        confirm.disabled = true;
        confirm.textContent = 'Detach';
        formError.textContent = '';
        try {
          plan = await api.post(`/api/v1/servers/${encodeURIComponent(server.id)}/detach`, {
            keep_cameras: keep.checked,
            dry_run: true,
          });
        } catch (error) {
          formError.textContent = error.reason || error.message;
          return;
        }
        summary.textContent = plan.summary;
        warnings.replaceChildren(...plan.warnings.map((w) => h('li', {}, w)));
        // the node accepts the token CONFIRM_WAIT_MS after it minted it: count from its answer
        const waitUntil = Date.now() + CONFIRM_WAIT_MS;
        const tick = () => {
          const left = Math.ceil((waitUntil - Date.now()) / 1000);
          if (left > 0) {
            confirm.disabled = true;
            confirm.textContent = `Detach (${left})`;
          } else {
            stopCountdown();
            confirm.disabled = false;
            confirm.textContent = 'Detach';
          }
        };
        tick();
        countdown = setInterval(tick, 200);
      }
      keep.addEventListener('change', ask);
      remove.addEventListener('change', ask);

      const form = h(
        'form',
        { novalidate: true },
        h(
          'fieldset',
          {},
          h('legend', {}, 'Its cameras'),
          h('div', { class: 'check' }, keep, h('label', { for: 'detach-keep' }, 'Keep cameras (they stay in the system)')),
          h('div', { class: 'check' }, remove, h('label', { for: 'detach-remove' }, 'Remove cameras (they leave the system)')),
        ),
        summary, warnings, formError,
        h('div', { class: 'actions' }, h('button', { type: 'button', onclick: () => { stopCountdown(); close(); } }, 'Cancel'), confirm),
      );
      form.addEventListener('submit', async (event) => {
        event.preventDefault();
        if (!plan || confirm.disabled) return;
        confirm.disabled = true;
        try {
          const done = await api.post(`/api/v1/servers/${encodeURIComponent(server.id)}/detach`, {
            keep_cameras: keep.checked,
            confirm_token: plan.confirm_token,
          });
          stopCountdown();
          close(done);
          showResult(server, done);
        } catch (error) {
          formError.textContent = error.reason || error.message;
          confirm.disabled = false;
        }
      });
      ask();
      return form;
    });
  }

  function showResult(server, done) {
    result.replaceChildren(
      h('p', { class: 'ok' }, `Detached ${server.name}: ${done.summary}.`),
      ...done.warnings.map((w) => h('p', { class: 'warning' }, w)),
    );
    const other = latest.find((s) => s.id !== server.id && s.online && s.url);
    if (server.id === ctx.health.node_id && !done.last_server && other) {
      // this server left the system: continue on another of its servers
      watcher.stop();
      location.assign(`${other.url.replace(/\/$/, '')}/${resumeFragment(ctx.session)}`);
      return;
    }
    watcher.refresh();
  }

  return () => {
    stopped = true;
    clearTimeout(timer);
    watcher.stop();
  };
}
