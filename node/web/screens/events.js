// Events: the system's event log, newest first: servers joined, down and up, cameras
// taken over by a backup and returned, cameras offline and online, recording gaps,
// disks nearly full. The history comes from GET /api/v1/events; new entries arrive
// on the event stream (`{"type": "event", "event": {...}}`) and go on top.
import { h } from '../lib/dom.js';
import { watch, byId } from '../lib/watch.js';
import { logEventText } from '../lib/event_text.js';

const HISTORY = 200;
const KEEP = 500;

export function mount(ctx, container) {
  const list = h('ol', { class: 'events', id: 'events-list', 'aria-live': 'polite', reversed: true });
  const note = h('p', { class: 'muted', id: 'events-note' }, 'Loading the event log…');
  container.append(note, list);
  let servers = new Map();
  let cameras = new Map();
  const seen = new Set();
  const pending = []; // pushed while the history loads
  let loaded = false;
  const serverName = (id) => servers.get(id)?.name || (id ? id.slice(0, 8) : '?');
  const cameraName = (id) => cameras.get(id)?.name || (id ? id.slice(0, 8) : '?');

  function row(event) {
    const { kind, text } = logEventText(event, serverName, cameraName);
    const time = new Date(event.time);
    const element = h(
      'li',
      { dataset: { kind, type: event.type, eventId: event.id } },
      h('time', { datetime: event.time }, time.toLocaleString(undefined, { hour12: false })),
      ' ',
      h('span', {}, text),
    );
    element._event = event; // to rename when the names arrive
    return element;
  }

  /** Puts `event` in time order (entries from other nodes can arrive a little late). */
  function add(event) {
    if (seen.has(event.id)) return;
    seen.add(event.id);
    const element = row(event);
    let before = list.firstElementChild;
    while (before && before.querySelector('time').getAttribute('datetime') > event.time) {
      before = before.nextElementSibling;
    }
    list.insertBefore(element, before);
    while (list.children.length > KEEP) list.lastElementChild.remove();
  }

  const stopListening = ctx.events.listen((message) => {
    if (message.type !== 'event' || !message.event) return;
    if (loaded) add(message.event);
    else pending.push(message.event);
  });
  // names for the ids in the log
  const watcher = watch(ctx, ['servers', 'cameras'], (data) => {
    servers = byId(data.servers);
    cameras = byId(data.cameras);
    for (const element of list.children) {
      const event = element._event;
      if (event) element.querySelector('span').textContent = logEventText(event, serverName, cameraName).text;
    }
  });
  ctx.api
    .get(`/api/v1/events?limit=${HISTORY}`)
    .then((answer) => {
      const fragment = document.createDocumentFragment();
      for (const event of answer.events) {
        if (seen.has(event.id)) continue;
        seen.add(event.id);
        fragment.append(row(event));
      }
      list.append(fragment); // the log answers newest first
      note.textContent = answer.events.length ? 'Newest first.' : 'No events yet.';
    })
    .catch((error) => {
      note.textContent = `The event log could not be read: ${error.reason || error.message}`;
    })
    .finally(() => {
      loaded = true;
      for (const event of pending.splice(0)) add(event);
    });

  return () => {
    stopListening();
    watcher.stop();
  };
}
