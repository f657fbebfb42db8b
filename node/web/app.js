// camkeep web client: start page (set-up or log-in), then the screens the user's
// role allows. Plain ES modules, no build step; every screen is a module with
// mount(ctx, container) returning its cleanup.
import { h, clear } from './lib/dom.js';
import { Api, LAST_SERVER_MESSAGE } from './lib/api.js';
import { EventStream } from './lib/events.js';
import { Connection } from './lib/connection.js';
import { openModal, closeModal } from './lib/modal.js';
import {
  clearSession,
  loadSession,
  roleAllows,
  saveSession,
  takeResumedSession,
} from './lib/session.js';
import * as setupScreen from './screens/setup.js';
import * as loginScreen from './screens/login.js';

export const SCREENS = [
  { path: 'live', label: 'Live', role: 'viewer', load: () => import('./screens/live.js') },
  { path: 'playback', label: 'Playback', role: 'viewer', load: () => import('./screens/playback.js') },
  { path: 'servers', label: 'Servers', role: 'admin', load: () => import('./screens/servers.js') },
  { path: 'failover', label: 'Failover', role: 'admin', load: () => import('./screens/failover.js') },
  { path: 'cameras', label: 'Cameras', role: 'admin', load: () => import('./screens/cameras.js') },
  { path: 'users', label: 'Users', role: 'admin', load: () => import('./screens/users.js') },
  { path: 'events', label: 'Events', role: 'admin', load: () => import('./screens/events.js') },
];

const api = new Api();
const connection = new Connection();
const main = document.getElementById('main');
const top = document.getElementById('top');
let session = null;
let events = null;
let unmount = null;
let expiryTimer = null;
let health = null;
const LEAVE_WAIT_MS = 20_000; // a server leaving its system takes a few seconds
let forcedOut = false;

api.onConnectionLost = () => connection.markLost();
api.onConnectionOk = () => connection.markOk();
let booting = true; // a stored token that no longer works just leads to the start page
api.onUnauthorized = (reason, systemGone) => {
  if (booting) return;
  if (systemGone) serverLeft();
  else backToLogin('Your session has ended: log in again.');
};
// the session carries the system's server addresses from the log-in on, so a page
// whose server dies right after the log-in still knows where to go
connection.otherServers = () => session?.servers || [];
connection.session = () => session;
connection.onRestored = () => {
  // the screens poll and the event stream reconnects by itself: nothing to redraw
  // (a redraw would close a dialog the user is typing in)
  if (session) refreshServers();
};
document.getElementById('logout').addEventListener('click', () => backToLogin('You are logged out.'));
window.addEventListener('hashchange', () => {
  if (session) route();
});

function unmountScreen() {
  if (unmount) {
    try {
      unmount();
    } catch (error) {
      console.error(error);
    }
  }
  unmount = null;
}

function stopSession() {
  unmountScreen();
  closeModal();
  if (events) events.stop();
  events = null;
  clearTimeout(expiryTimer);
  session = null;
  api.token = null;
  clearSession();
  top.hidden = true;
}

/** The start page: set-up on an undefined node, else log-in. */
export async function start(message) {
  stopSession();
  try {
    health = await api.get('/api/v1/health');
  } catch {
    clear(main).append(h('p', {}, 'This server does not answer. Retrying…'));
    setTimeout(() => start(message), 2000);
    return;
  }
  unmountScreen();
  if (health.state === 'undefined') {
    unmount = setupScreen.mount({ api, health, onDone: begin }, clear(main));
  } else {
    unmount = loginScreen.mount({ api, health, message, onDone: begin }, clear(main));
  }
}

function backToLogin(message) {
  if (forcedOut) return;
  start(message);
}

/** The last server was detached: every client shows this and goes to the start page. */
function forcedLogout() {
  if (forcedOut) return;
  forcedOut = true;
  stopSession();
  clear(main).append(h('p', { class: 'muted' }, 'Logged out.'));
  openModal(
    'Logged out',
    (close) =>
      h(
        'div',
        {},
        h('p', { id: 'forced-logout-text' }, LAST_SERVER_MESSAGE),
        h('div', { class: 'actions' }, h('button', { type: 'button', onclick: () => close() }, 'OK')),
      ),
    { dismissable: false, id: 'forced-logout' },
  ).then(async () => {
    forcedOut = false;
    await untilUndefined();
    start(); // the server is undefined now: the set-up page
  });
}

/** The "logout" event comes before the server has finished leaving its system: wait
 * (up to LEAVE_WAIT_MS) until it says it is undefined, so the set-up page follows. */
async function untilUndefined() {
  clear(main).append(h('p', { class: 'muted' }, 'Waiting for this server to leave the system…'));
  const deadline = Date.now() + LEAVE_WAIT_MS;
  while (Date.now() < deadline) {
    try {
      if ((await api.get('/api/v1/health')).state === 'undefined') return;
    } catch {
      // not answering for a moment: ask again
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

/**
 * This server answers that it no longer belongs to a system. When the whole system
 * ended, the "logout" event says so (it comes before the server leaves); otherwise
 * only this server was detached: the user logs in on another one.
 */
function serverLeft() {
  setTimeout(() => {
    if (forcedOut || !session) return;
    stopSession();
    start().finally(() => {
      openModal('This server left its system', (close) =>
        h(
          'div',
          {},
          h('p', {}, 'This server was detached from its system: open another server of the system to continue.'),
          h('div', { class: 'actions' }, h('button', { type: 'button', onclick: () => close() }, 'OK')),
        ),
      );
    });
  }, 800);
}

/** Logged in: {token, username, role, expiresAt, servers}. */
function begin(newSession) {
  session = { ...newSession, servers: newSession.servers || [] };
  saveSession(session);
  api.token = session.token;
  forcedOut = false;
  const left = Date.parse(session.expiresAt) - Date.now();
  clearTimeout(expiryTimer);
  expiryTimer = setTimeout(() => backToLogin('Your session has expired: log in again.'), Math.max(0, left));
  events = new EventStream(session.token);
  events.listen((event) => {
    if (event.type === 'logout') forcedLogout();
    // a server joined or left: the addresses to move to when this one fails change
    if (event.type === 'server_joined' || event.type === 'server_detached') refreshServers();
  });
  events.onRefused = (reason) => {
    if (/system was removed/.test(reason)) forcedLogout();
    else if (/undefined/.test(reason)) serverLeft();
    else backToLogin('Your session has ended: log in again.');
  };
  events.onDown = () => connection.markLost();
  events.onUp = () => connection.markOk();
  events.start();
  buildShell();
  if (!location.hash || location.hash === '#' || location.hash.startsWith('#resume')) {
    history.replaceState(null, '', '#/live');
  }
  route();
  prefetchScreens();
}

/** Load the other screens' modules once the browser is idle (after the first screen
 * has drawn and its streams have started), so the first visit to a screen does not wait
 * for its code. */
function prefetchScreens() {
  const later = window.requestIdleCallback || ((callback) => setTimeout(callback, 2000));
  later(
    () => {
      if (!session || connection.lost) return;
      for (const screen of allowedScreens()) screen.load().catch(() => {});
    },
    { timeout: 5000 },
  );
}

async function refreshServers() {
  try {
    const servers = await api.get('/api/v1/servers');
    if (!session) return;
    session.servers = servers.map((s) => s.url).filter(Boolean);
    saveSession(session);
  } catch {
    // keep the last list: it is what lets the client move to another node
  }
}

function allowedScreens() {
  return SCREENS.filter((screen) => roleAllows(session.role, screen.role));
}

function buildShell() {
  top.hidden = false;
  const nav = clear(document.getElementById('nav'));
  for (const screen of allowedScreens()) {
    nav.append(h('a', { href: `#/${screen.path}`, dataset: { screen: screen.path } }, screen.label));
  }
  document.getElementById('who').textContent = `${session.username} (${session.role})`;
}

let routeVersion = 0;
async function route() {
  const version = ++routeVersion;
  const wanted = location.hash.replace(/^#\//, '').split('?')[0];
  const screens = allowedScreens();
  const screen = screens.find((s) => s.path === wanted) || screens[0];
  if (screen.path !== wanted) history.replaceState(null, '', `#/${screen.path}`);
  for (const link of document.querySelectorAll('#nav a')) {
    if (link.dataset.screen === screen.path) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  unmountScreen();
  closeModal();
  const module = await screen.load();
  if (version !== routeVersion || !session) return;
  const container = clear(main);
  container.append(h('h1', {}, screen.label));
  const ctx = {
    api,
    session,
    events,
    health,
    can: (role) => roleAllows(session.role, role),
    refreshServers,
    moveTo: (url) => {
      location.assign(`${url.replace(/\/$/, '')}/`);
    },
  };
  unmount = module.mount(ctx, container) || null;
  document.title = `${screen.label} · camkeep`;
}

async function boot() {
  const resumed = takeResumedSession();
  const stored = resumed || loadSession();
  if (stored) {
    api.token = stored.token;
    try {
      const me = await api.get('/api/v1/auth/me');
      health = await api.get('/api/v1/health');
      booting = false;
      begin({ ...stored, username: me.username, role: me.role, servers: me.server_urls });
      return;
    } catch {
      api.token = null;
      clearSession();
    }
  }
  booting = false;
  start();
}

boot();
