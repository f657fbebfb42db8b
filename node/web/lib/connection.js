// The lost-connection banner. When a request or the event stream fails, the banner
// shows and the client asks this node's /api/v1/health every RETRY_MS; when this
// node stays silent for SWITCH_AFTER tries, it tries the other servers of the system
// (their URLs come from /api/v1/servers) and moves the page to the first that
// answers, carrying the session along.
import { h } from './dom.js';
import { resumeFragment } from './session.js';

const RETRY_MS = 2000;
const SWITCH_AFTER = 3;

export class Connection {
  constructor() {
    this.banner = document.getElementById('banner');
    this.lost = false;
    this.failures = 0;
    this.timer = null;
    this.otherServers = () => []; // () => [url]: the system's other servers
    this.session = () => null;
    this.onRestored = () => {};
  }

  markLost() {
    if (this.lost) return;
    this.lost = true;
    this.failures = 0;
    this.show('Connection to this server was lost. Reconnecting…');
    this.schedule(RETRY_MS);
  }

  markOk() {
    if (!this.lost) return;
    this.lost = false;
    clearTimeout(this.timer);
    this.banner.hidden = true;
    this.banner.replaceChildren();
    this.onRestored();
  }

  show(text) {
    this.banner.replaceChildren(
      h('span', { class: 'banner-text' }, text),
      h('button', { type: 'button', onclick: () => this.tryNow() }, 'Reconnect now'),
    );
    this.banner.hidden = false;
  }

  schedule(ms) {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.tryNow(), ms);
  }

  async tryNow() {
    clearTimeout(this.timer);
    if (await reachable('/api/v1/health', false)) {
      this.markOk();
      return;
    }
    this.failures += 1;
    if (this.failures >= SWITCH_AFTER) {
      const others = this.otherServers().filter((url) => new URL(url).origin !== location.origin);
      for (const url of others) {
        if (await reachable(`${url.replace(/\/$/, '')}/api/v1/health`, true)) {
          this.show(`This server is down. Moving to ${url} …`);
          const session = this.session();
          const fragment = session ? resumeFragment(session) : '';
          location.assign(`${url.replace(/\/$/, '')}/${fragment}`);
          return;
        }
      }
      this.show('No server of this system answers. Still trying…');
    }
    this.schedule(RETRY_MS);
  }
}

async function reachable(url, otherOrigin) {
  const controller = new AbortController();
  // another server may be busy taking over this one's cameras: give it time to answer
  const timer = setTimeout(() => controller.abort(), otherOrigin ? 3000 : 1500);
  try {
    // another node answers without CORS headers: an opaque answer still proves it is up
    const answer = await fetch(url, {
      cache: 'no-store',
      mode: otherOrigin ? 'no-cors' : 'same-origin',
      signal: controller.signal,
    });
    return otherOrigin || answer.ok;
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
  }
}
