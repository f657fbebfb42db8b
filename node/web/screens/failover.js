// Failover: per server, Enable failover and the maximum number of cameras it takes
// (not above its licensed channels, at most 128); every camera of the system with a
// check box (click, Shift+click for a range, or all), its priority, the
// continuous-recording icon, and where it is planned and recorded now.
import { h, field, checkbox } from '../lib/dom.js';
import { clearErrors, showError } from '../lib/api.js';
import { watch, byId } from '../lib/watch.js';

export const MAX_CHANNELS = 128;
const PRIORITIES = [
  ['high', 'High'],
  ['medium', 'Medium'],
  ['low', 'Low'],
  ['never', 'Never'],
];
const PRIORITY_LABEL = Object.fromEntries(PRIORITIES);

export function mount(ctx, container) {
  const { api } = ctx;
  const serverCards = h('div', { class: 'cards', id: 'failover-servers' });
  const selected = new Set();
  let lastClicked = null;
  let rows = []; // [{id, input}] in table order
  let editing = new Set(); // servers with unsaved changes: not overwritten by refreshes
  const cardsById = new Map();
  let lastSignature = null;

  const all = checkbox('Select all cameras', { id: 'select-all' });
  const count = h('span', { class: 'muted', id: 'selected-count', 'aria-live': 'polite' }, '0 selected');
  const priority = field('Priority of the selected cameras', { name: 'priority' }, { tag: 'select', options: PRIORITIES });
  const apply = h('button', { type: 'button', id: 'apply-priority', disabled: true }, 'Set priority');
  const tableBody = h('tbody');
  container.append(
    h('h2', {}, 'Servers'),
    serverCards,
    h('h2', {}, 'Cameras'),
    h('div', { class: 'toolbar' }, all.wrap, count, priority.wrap, apply),
    h(
      'div',
      { class: 'table-wrap' },
      h(
        'table',
        { id: 'failover-cameras' },
        h('caption', { class: 'sr-only' }, 'Every camera of the system with its failover priority'),
        h('thead', {}, h('tr', {}, ['', 'Camera', 'Priority', 'Continuous', 'Home server', 'Planned on', 'Recording on'].map((t) => h('th', { scope: 'col' }, t)))),
        tableBody,
      ),
    ),
  );

  function updateSelection() {
    for (const row of rows) row.input.checked = selected.has(row.id);
    count.textContent = `${selected.size} selected`;
    apply.disabled = selected.size === 0;
    all.input.checked = rows.length > 0 && selected.size === rows.length;
    all.input.indeterminate = selected.size > 0 && selected.size < rows.length;
  }

  all.input.addEventListener('change', () => {
    if (all.input.checked) rows.forEach((r) => selected.add(r.id));
    else selected.clear();
    updateSelection();
  });

  function onRowClick(id, event) {
    const input = event.target;
    if (event.shiftKey && lastClicked !== null) {
      const from = rows.findIndex((r) => r.id === lastClicked);
      const to = rows.findIndex((r) => r.id === id);
      const [a, b] = from < to ? [from, to] : [to, from];
      for (const row of rows.slice(a, b + 1)) {
        if (input.checked) selected.add(row.id);
        else selected.delete(row.id);
      }
    } else if (input.checked) selected.add(id);
    else selected.delete(id);
    lastClicked = id;
    updateSelection();
  }

  apply.addEventListener('click', async () => {
    clearErrors({}, priority.error);
    apply.disabled = true;
    try {
      await api.put('/api/v1/cameras/priority', { camera_ids: [...selected], priority: priority.input.value });
      watcher.refresh();
    } catch (error) {
      showError(error, { priority: priority.error }, priority.error);
    } finally {
      apply.disabled = selected.size === 0;
    }
  });

  function serverCard(server) {
    const limit = Math.min(server.licensed_channels, MAX_CHANNELS);
    const enabled = checkbox('Enable failover', { checked: server.failover_enabled });
    const max = field(
      'Max cameras allowed on this server',
      { type: 'number', min: 0, max: limit, step: 1, value: String(server.max_cameras), inputmode: 'numeric' },
      { hint: `Not above its licensed channels (${server.licensed_channels}) and at most ${MAX_CHANNELS}.` },
    );
    const formError = h('p', { class: 'form-error', role: 'alert' });
    const save = h('button', { type: 'submit' }, 'Save');
    const state = h('span', { class: `badge state-${server.state}` }, server.state);
    const planned = h('span', { class: 'muted' });
    const form = h(
      'form',
      { class: 'card', dataset: { serverId: server.id }, novalidate: true, 'aria-label': `Failover settings of ${server.name}` },
      h('h3', {}, h('span', {}, server.name), ' ', state),
      planned,
      enabled.wrap, max.wrap, formError,
      h('div', { class: 'actions' }, save),
    );
    const markEditing = () => editing.add(server.id);
    enabled.input.addEventListener('change', markEditing);
    max.input.addEventListener('input', markEditing);
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      clearErrors({ max_cameras: max.error }, formError);
      const value = Number(max.input.value);
      if (!Number.isInteger(value) || max.input.value.trim() === '') {
        max.error.textContent = 'max_cameras: a whole number is needed';
        return;
      }
      save.disabled = true;
      try {
        await api.put(`/api/v1/servers/${encodeURIComponent(server.id)}/failover`, {
          enabled: enabled.input.checked,
          max_cameras: value,
        });
        editing.delete(server.id);
        formError.textContent = '';
        form.append(h('p', { class: 'ok saved', role: 'status' }, 'Saved.'));
        setTimeout(() => form.querySelector('.saved')?.remove(), 2000);
        watcher.refresh();
      } catch (error) {
        showError(error, { max_cameras: max.error, enabled: formError }, formError);
      } finally {
        save.disabled = false;
      }
    });
    return { form, enabled, max, state, planned };
  }

  function render({ failover }) {
    const servers = byId(failover.servers);
    const name = (id) => (id ? servers.get(id)?.name || id.slice(0, 8) : '–');
    // server cards: made once, refreshed in place unless being edited
    for (const server of failover.servers) {
      let card = cardsById.get(server.id);
      if (!card) {
        card = serverCard(server);
        cardsById.set(server.id, card);
      }
      card.state.textContent = server.state;
      card.state.className = `badge state-${server.state}`;
      card.planned.textContent = `${server.planned_cameras} camera(s) planned here, ${server.max_cameras} allowed`;
      if (!editing.has(server.id)) {
        card.enabled.input.checked = server.failover_enabled;
        card.max.input.value = String(server.max_cameras);
      }
    }
    for (const id of [...cardsById.keys()]) if (!servers.has(id)) cardsById.delete(id);
    const cards = failover.servers.map((s) => cardsById.get(s.id).form);
    if (cards.length !== serverCards.children.length || cards.some((c, i) => serverCards.children[i] !== c)) {
      serverCards.replaceChildren(...cards);
    }
    // camera rows: rebuilt when anything in them changed (cheap even for 512
    // cameras), so focus and selection stay put between refreshes
    const signature = JSON.stringify([failover.cameras, failover.servers.map((s) => [s.id, s.name])]);
    if (signature === lastSignature) return;
    lastSignature = signature;
    const known = new Set(failover.cameras.map((c) => c.id));
    for (const id of [...selected]) if (!known.has(id)) selected.delete(id);
    rows = [];
    const fragment = document.createDocumentFragment();
    for (const camera of failover.cameras) {
      const input = h('input', { type: 'checkbox', 'aria-label': `Select ${camera.name}` });
      input.addEventListener('click', (event) => onRowClick(camera.id, event));
      rows.push({ id: camera.id, input });
      const recordedOn = camera.recording_server_id;
      const plannedText = camera.planned_server_id ? name(camera.planned_server_id) : `not recorded: ${camera.unplaced_reason || '–'}`;
      fragment.append(
        h(
          'tr',
          { dataset: { cameraId: camera.id } },
          h('td', {}, input),
          h('th', { scope: 'row' }, camera.name),
          h('td', { class: `priority priority-${camera.priority}` }, PRIORITY_LABEL[camera.priority] || camera.priority),
          h(
            'td',
            {},
            camera.continuous_recording
              ? h('span', { class: 'icon-rec', role: 'img', 'aria-label': 'continuous recording', title: 'Continuous recording' }, '●')
              : h('span', { class: 'muted', role: 'img', 'aria-label': 'no continuous recording', title: 'No continuous recording' }, '○'),
          ),
          h('td', {}, name(camera.home_server_id)),
          h('td', { class: camera.planned_server_id ? '' : 'warning' }, plannedText),
          h('td', {}, recordedOn ? name(recordedOn) : '–'),
        ),
      );
    }
    tableBody.replaceChildren(fragment);
    updateSelection();
  }

  const watcher = watch(ctx, ['failover'], render);
  return () => watcher.stop();
}
