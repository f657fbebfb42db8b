// The node's events WebSocket (/api/v1/events): camera status, server state and
// configuration changes, and the "logout" sent when the last server is detached.
// Reconnects by itself; listeners get every event as a plain object.

const CLOSE_UNAUTHORIZED = 4401;
const CLOSE_UNDEFINED = 4409;

export class EventStream {
  constructor(token) {
    this.token = token;
    this.listeners = new Set();
    this.onRefused = () => {}; // (reason) => void: closed by the node for good
    this.onDown = () => {};
    this.onUp = () => {};
    this.socket = null;
    this.stopped = false;
    this.retryMs = 500;
    this.timer = null;
  }

  start() {
    this.stopped = false;
    this.connect();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    if (this.socket) this.socket.close(1000);
    this.socket = null;
  }

  listen(listener) {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  connect() {
    if (this.stopped) return;
    const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
    const url = `${scheme}://${location.host}/api/v1/events?token=${encodeURIComponent(this.token)}`;
    const socket = new WebSocket(url);
    this.socket = socket;
    socket.addEventListener('open', () => {
      this.retryMs = 500;
    });
    socket.addEventListener('message', (message) => {
      let event;
      try {
        event = JSON.parse(message.data);
      } catch {
        return;
      }
      if (event.type === 'hello') this.onUp();
      for (const listener of [...this.listeners]) {
        try {
          listener(event);
        } catch (error) {
          console.error('event listener failed', error);
        }
      }
    });
    socket.addEventListener('close', (close) => {
      if (this.socket !== socket || this.stopped) return;
      this.socket = null;
      if (close.code === CLOSE_UNAUTHORIZED || close.code === CLOSE_UNDEFINED) {
        this.stopped = true;
        this.onRefused(close.reason || 'the server closed the event stream');
        return;
      }
      this.onDown();
      this.timer = setTimeout(() => this.connect(), this.retryMs);
      this.retryMs = Math.min(this.retryMs * 2, 4000);
    });
  }
}
