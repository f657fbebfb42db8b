// Cameras: the list with source, home server and state; add one found by ONVIF
// discovery, by address and credentials, or by RTSP URL; edit; delete.
import { h, field, checkbox } from '../lib/dom.js';
import { clearErrors, showError } from '../lib/api.js';
import { openModal, confirmModal } from '../lib/modal.js';
import { watch, byId } from '../lib/watch.js';

const PRIORITIES = [
  ['high', 'High'],
  ['medium', 'Medium'],
  ['low', 'Low'],
  ['never', 'Never'],
];

export function mount(ctx, container) {
  const { api } = ctx;
  let servers = [];
  const body = h('tbody');
  const discoveredList = h('ul', { class: 'plain', id: 'discovered-cameras' });
  const search = h('button', { type: 'button', id: 'discover-cameras' }, 'Search the network');
  // The add dialogs offer the system's servers as home: enabled once they have loaded.
  const addButtons = [
    h('button', { type: 'button', id: 'add-by-address', disabled: true, onclick: () => addDialog('onvif') }, 'Add by address…'),
    h('button', { type: 'button', id: 'add-by-url', disabled: true, onclick: () => addDialog('rtsp') }, 'Add by RTSP URL…'),
  ];

  container.append(
    h(
      'div',
      { class: 'toolbar' },
      ...addButtons,
    ),
    h(
      'div',
      { class: 'table-wrap' },
      h(
        'table',
        { id: 'cameras-table' },
        h('caption', { class: 'sr-only' }, 'Cameras of this system'),
        h('thead', {}, h('tr', {}, ['Name', 'Source', 'Home server', 'Priority', 'State', ''].map((t) => h('th', { scope: 'col' }, t)))),
        body,
      ),
    ),
    h(
      'section',
      { 'aria-labelledby': 'cam-discovery-title' },
      h('h2', { id: 'cam-discovery-title' }, 'ONVIF cameras on this network'),
      search,
      discoveredList,
    ),
  );

  search.addEventListener('click', async () => {
    search.disabled = true;
    search.textContent = 'Searching…';
    try {
      const found = await api.get('/api/v1/cameras/discovered');
      discoveredList.replaceChildren();
      if (found.length === 0) discoveredList.append(h('li', { class: 'muted' }, 'No ONVIF camera answered.'));
      for (const camera of found) {
        const label = camera.name || camera.hardware || camera.host || camera.endpoint;
        discoveredList.append(
          h(
            'li',
            {},
            h('span', {}, label), ' ',
            h('span', { class: 'mono muted' }, `${camera.host}:${camera.port}`), ' ',
            camera.already_added
              ? h('span', { class: 'muted' }, '(added)')
              : h('button', { type: 'button', onclick: () => addDialog('onvif', { name: label, host: camera.host, port: camera.port }) }, `Add ${label}…`),
          ),
        );
      }
    } catch (error) {
      discoveredList.replaceChildren(h('li', { class: 'form-error' }, error.reason || error.message));
    } finally {
      search.disabled = false;
      search.textContent = 'Search the network';
    }
  });

  const serverOptions = () => servers.map((s) => [s.id, s.name]);

  function addDialog(kind, preset = {}) {
    const title = kind === 'rtsp' ? 'Add a camera by RTSP URL' : 'Add an ONVIF camera';
    return openModal(title, (close) => {
      const name = field('Name', { value: preset.name || '', maxlength: 64, required: true });
      const host = field('Address (host name or IP)', { value: preset.host || '' });
      const port = field('ONVIF port', { type: 'number', min: 1, max: 65535, value: String(preset.port || 80) });
      const user = field('Camera user name', { autocomplete: 'off' });
      const password = field('Camera password', { type: 'password', autocomplete: 'new-password' });
      const url = field('RTSP URL', { placeholder: 'rtsp://user:password@192.168.1.30:554/stream1' });
      const home = field('Home server', { value: ctx.health.node_id }, { tag: 'select', options: serverOptions() });
      const priority = field('Failover priority', { value: 'medium' }, { tag: 'select', options: PRIORITIES });
      const continuous = checkbox('Continuous recording', { checked: true });
      const formError = h('p', { class: 'form-error', role: 'alert' });
      const submit = h('button', { type: 'submit' }, 'Add camera');
      const fields = {
        name: name.error,
        'onvif.host': host.error,
        'onvif.port': port.error,
        'onvif.username': user.error,
        'onvif.password': password.error,
        rtsp_url: url.error,
        home_server_id: home.error,
        priority: priority.error,
        ONVIF: host.error, // "ONVIF: unreachable ..." is about the address
      };
      const source = kind === 'rtsp' ? [url.wrap] : [host.wrap, port.wrap, user.wrap, password.wrap];
      const form = h(
        'form',
        { novalidate: true },
        name.wrap, ...source, home.wrap, priority.wrap, continuous.wrap, formError,
        h('div', { class: 'actions' }, h('button', { type: 'button', onclick: () => close() }, 'Cancel'), submit),
      );
      form.addEventListener('submit', async (event) => {
        event.preventDefault();
        clearErrors(fields, formError);
        const request = {
          name: name.input.value,
          home_server_id: home.input.value || undefined,
          priority: priority.input.value,
          continuous_recording: continuous.input.checked,
        };
        if (kind === 'rtsp') request.rtsp_url = url.input.value;
        else {
          request.onvif = {
            host: host.input.value,
            port: Number(port.input.value) || 80,
            username: user.input.value || undefined,
            password: password.input.value || undefined,
          };
        }
        submit.disabled = true;
        submit.textContent = 'Adding…';
        try {
          await api.post('/api/v1/cameras', request);
          close(true);
          watcher.refresh();
        } catch (error) {
          showError(error, fields, formError);
        } finally {
          submit.disabled = false;
          submit.textContent = 'Add camera';
        }
      });
      return form;
    });
  }

  function editDialog(camera) {
    return openModal(`Edit ${camera.name}`, (close) => {
      const name = field('Name', { value: camera.name, maxlength: 64 });
      const home = field('Home server', { value: camera.home_server_id || '' }, { tag: 'select', options: serverOptions() });
      const priority = field('Failover priority', { value: camera.priority }, { tag: 'select', options: PRIORITIES });
      const continuous = checkbox('Continuous recording', { checked: camera.continuous_recording });
      const formError = h('p', { class: 'form-error', role: 'alert' });
      const submit = h('button', { type: 'submit' }, 'Save');
      const fields = { name: name.error, home_server_id: home.error, priority: priority.error };
      const form = h(
        'form',
        { novalidate: true },
        name.wrap, home.wrap, priority.wrap, continuous.wrap, formError,
        h('div', { class: 'actions' }, h('button', { type: 'button', onclick: () => close() }, 'Cancel'), submit),
      );
      form.addEventListener('submit', async (event) => {
        event.preventDefault();
        clearErrors(fields, formError);
        submit.disabled = true;
        try {
          await api.patch(`/api/v1/cameras/${encodeURIComponent(camera.id)}`, {
            name: name.input.value,
            home_server_id: home.input.value,
            priority: priority.input.value,
            continuous_recording: continuous.input.checked,
          });
          close(true);
          watcher.refresh();
        } catch (error) {
          showError(error, fields, formError);
        } finally {
          submit.disabled = false;
        }
      });
      return form;
    });
  }

  async function remove(camera) {
    if (!(await confirmModal(`Delete ${camera.name}?`, 'The camera leaves the system; its recordings stay on disk until retention removes them.', 'Delete'))) return;
    try {
      await api.delete(`/api/v1/cameras/${encodeURIComponent(camera.id)}`);
      watcher.refresh();
    } catch (error) {
      await confirmModal('Could not delete', error.reason || error.message);
    }
  }

  // A row is rebuilt only when its camera changed (the status counts every frame:
  // only its state and error are shown), and the body only when a row or the order
  // changed: a refresh every two seconds that rebuilt 512 rows would cost the page a
  // few hundred ms each time, and would lose the focus.
  const made = new Map(); // camera id -> {key, row}
  function cameraRow(camera, byServer) {
    const status = camera.status || {};
    const key = JSON.stringify([{ ...camera, status: null }, status.state, status.last_error, byServer.get(camera.home_server_id)?.name]);
    const known = made.get(camera.id);
    if (known && known.key === key) return known.row;
    const source = camera.onvif ? `ONVIF ${camera.onvif.host}:${camera.onvif.port}` : camera.stream_url || '–';
    const stateText = status.last_error ? `${status.state}: ${status.last_error}` : status.state;
    const row = h(
      'tr',
      { dataset: { cameraId: camera.id } },
      h('th', { scope: 'row' }, camera.name),
      h('td', { class: 'mono' }, source),
      h('td', {}, byServer.get(camera.home_server_id)?.name || '–'),
      h('td', {}, camera.priority),
      h('td', {}, stateText),
      h(
        'td',
        { class: 'row-actions' },
        h('button', { type: 'button', onclick: () => editDialog(camera), 'aria-label': `Edit ${camera.name}` }, 'Edit'),
        h('button', { type: 'button', class: 'danger', onclick: () => remove(camera), 'aria-label': `Delete ${camera.name}` }, 'Delete'),
      ),
    );
    made.set(camera.id, { key, row });
    return row;
  }

  const watcher = watch(ctx, ['cameras', 'servers'], (data) => {
    servers = data.servers;
    for (const button of addButtons) button.disabled = false;
    const byServer = byId(servers);
    const rows = data.cameras
      .slice()
      .sort((a, b) => a.name.localeCompare(b.name))
      .map((camera) => cameraRow(camera, byServer));
    const present = new Set(data.cameras.map((c) => c.id));
    for (const id of [...made.keys()]) if (!present.has(id)) made.delete(id);
    const current = body.children;
    if (rows.length === current.length && rows.every((row, i) => current[i] === row)) return;
    const fragment = document.createDocumentFragment();
    fragment.append(...rows);
    body.replaceChildren(fragment);
  });
  return () => watcher.stop();
}
