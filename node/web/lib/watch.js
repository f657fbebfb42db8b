// Keeps a screen's view of the system fresh without a reload: it fetches the
// lists the screen needs at once, again shortly after every event from the node,
// and every EVERY_MS (placement decided on other nodes does not always reach this
// node as an event).

const EVERY_MS = 2000;
const AFTER_EVENT_MS = 150;

const PATHS = {
  servers: '/api/v1/servers',
  cameras: '/api/v1/cameras',
  failover: '/api/v1/failover',
};

/** watch(ctx, ['servers', 'cameras'], (data) => ...) -> stop() */
export function watch(ctx, what, onData, { everyMs = EVERY_MS } = {}) {
  let stopped = false;
  let timer = null;
  let running = false;
  let again = false;

  const load = async () => {
    if (stopped) return;
    if (running) {
      again = true;
      return;
    }
    running = true;
    clearTimeout(timer);
    try {
      const values = await Promise.all(what.map((name) => ctx.api.get(PATHS[name])));
      if (!stopped) onData(Object.fromEntries(what.map((name, i) => [name, values[i]])));
    } catch {
      // the banner tells of a lost connection; keep showing the last data
    } finally {
      running = false;
      if (!stopped) {
        if (again) {
          again = false;
          timer = setTimeout(load, AFTER_EVENT_MS);
        } else timer = setTimeout(load, everyMs);
      }
    }
  };
  let eventTimer = null;
  const stopListening = ctx.events
    ? ctx.events.listen((event) => {
        if (event.type === 'hello' || event.type === 'logout') return;
        clearTimeout(eventTimer);
        eventTimer = setTimeout(load, AFTER_EVENT_MS);
      })
    : () => {};
  load();
  return {
    stop() {
      stopped = true;
      clearTimeout(timer);
      clearTimeout(eventTimer);
      stopListening();
    },
    refresh: load,
  };
}

export function byId(list) {
  return new Map((list || []).map((item) => [item.id, item]));
}
