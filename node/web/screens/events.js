// Events: a live list, newest first: servers down and up, cameras taken over by a
// backup and returned, cameras offline. Server changes come from the event stream;
// camera moves from comparing successive views of the cameras.
import { h } from '../lib/dom.js';
import { watch, byId } from '../lib/watch.js';
import { cameraChanges, serverEventText } from '../lib/event_text.js';

const KEEP = 500;

export function mount(ctx, container) {
  const list = h('ol', { class: 'events', id: 'events-list', 'aria-live': 'polite', reversed: true });
  container.append(h('p', { class: 'muted' }, 'What happens in the system from now on, newest first.'), list);
  let servers = new Map();
  let cameras = null;
  const serverName = (id) => servers.get(id)?.name || (id ? id.slice(0, 8) : '?');

  function add({ kind, text }) {
    const time = new Date();
    list.prepend(
      h('li', { dataset: { kind } }, h('time', { datetime: time.toISOString() }, time.toLocaleTimeString(undefined, { hour12: false })), ' ', h('span', {}, text)),
    );
    while (list.children.length > KEEP) list.lastElementChild.remove();
  }

  const stopListening = ctx.events.listen((event) => {
    if (event.type === 'server_state') add(serverEventText(event, serverName));
  });
  const watcher = watch(ctx, ['servers', 'cameras'], (data) => {
    servers = byId(data.servers);
    const fresh = byId(data.cameras);
    if (cameras) {
      for (const [id, camera] of fresh) for (const change of cameraChanges(cameras.get(id), camera, serverName)) add(change);
    }
    cameras = fresh;
  });
  return () => {
    stopListening();
    watcher.stop();
  };
}
