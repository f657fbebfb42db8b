// Live: a grid of 1, 4, 9 or 16 tiles playing each camera's sub-stream (its main
// stream when it has none) through the player (/web/player.js); a click (or Enter)
// shows one tile full-screen on the main stream. Each tile names its camera and its recording state, kept fresh from the
// event stream and a short poll; the video's own state (connecting, playing, why it
// cannot play) is shown over the picture. Any node relays any camera, so a tile keeps
// playing through a failover; the player moves to another node only when its own
// node stops answering.
import { h, clear } from '../lib/dom.js';
import { watch, byId } from '../lib/watch.js';
import { tileState } from '../lib/camera_state.js';
import { loadPlayer } from '../lib/player_loader.js';

const LAYOUTS = [1, 4, 9, 16];
const STORE_KEY = 'camkeep.live.layout';

export function mount(ctx, container) {
  let layout = Number(localStorage.getItem(STORE_KEY)) || 4;
  if (!LAYOUTS.includes(layout)) layout = 4;
  let page = 0;
  let data = { cameras: [], servers: [], failover: { cameras: [] } };
  const tiles = new Map(); // camera id -> {element, state, text, player}
  let player = null;
  let expanded = null;

  const layoutButtons = LAYOUTS.map((n) =>
    h('button', { type: 'button', 'aria-pressed': String(n === layout), onclick: () => setLayout(n) }, `${n}`),
  );
  const pageInfo = h('span', { class: 'muted', 'aria-live': 'polite' });
  const prev = h('button', { type: 'button', onclick: () => setPage(page - 1), 'aria-label': 'Previous page' }, '‹');
  const next = h('button', { type: 'button', onclick: () => setPage(page + 1), 'aria-label': 'Next page' }, '›');
  const videoNote = h('p', { class: 'notice', hidden: true, id: 'live-video-note' });
  const grid = h('div', { class: `grid grid-${layout}`, id: 'live-grid' });
  container.append(
    h(
      'div',
      { class: 'toolbar' },
      h('span', { id: 'layout-label' }, 'Tiles'),
      h('div', { class: 'segmented', role: 'group', 'aria-labelledby': 'layout-label' }, layoutButtons),
      prev, pageInfo, next,
    ),
    videoNote,
    grid,
  );

  loadPlayer().then((module) => {
    player = module;
    if (!player) {
      videoNote.hidden = false;
      videoNote.textContent = 'Live video is not available on this server: the tiles show each camera’s state.';
    }
    render();
  });

  function setLayout(n) {
    layout = n;
    localStorage.setItem(STORE_KEY, String(n));
    layoutButtons.forEach((b, i) => b.setAttribute('aria-pressed', String(LAYOUTS[i] === n)));
    grid.className = `grid grid-${layout}`;
    page = 0;
    render();
  }

  function setPage(n) {
    const pages = Math.max(1, Math.ceil(data.cameras.length / layout));
    page = Math.min(Math.max(0, n), pages - 1);
    render();
  }

  function toggleExpanded(cameraId) {
    const before = expanded;
    expanded = expanded === cameraId ? null : cameraId;
    // the full-screen tile plays the main stream, the grid the sub-streams
    for (const id of new Set([before, expanded])) {
      const tile = id && tiles.get(id);
      if (tile) playStream(tile, id === expanded ? 'main' : tile.gridStream);
    }
    for (const [id, tile] of tiles) tile.element.classList.toggle('expanded', id === expanded);
    grid.classList.toggle('has-expanded', expanded !== null);
    const tile = tiles.get(cameraId);
    if (expanded && tile && document.fullscreenEnabled && !document.fullscreenElement) {
      tile.element.requestFullscreen().catch(() => {});
    } else if (!expanded && document.fullscreenElement) {
      document.exitFullscreen().catch(() => {});
    }
  }

  function onFullscreenChange() {
    if (!document.fullscreenElement && expanded) toggleExpanded(expanded);
  }
  document.addEventListener('fullscreenchange', onFullscreenChange);

  function makeTile(camera) {
    const name = h('span', { class: 'tile-name' });
    const state = h('span', { class: 'tile-state' });
    const screen = h('div', { class: 'tile-video' });
    const element = h(
      'figure',
      {
        class: 'tile',
        tabindex: '0',
        role: 'button',
        dataset: { cameraId: camera.id },
        onclick: () => toggleExpanded(camera.id),
        onkeydown: (event) => {
          if (event.key === 'Enter' || event.key === ' ') {
            event.preventDefault();
            toggleExpanded(camera.id);
          }
        },
      },
      screen,
      h('figcaption', {}, name, state),
    );
    const note = h('p', { class: 'tile-novideo tile-videostate', 'aria-live': 'off' });
    // a camera without a second profile shows its main stream in the grid too
    const gridStream = camera.sub_stream_url ? 'sub' : 'main';
    const tile = { id: camera.id, element, name, state, screen, note, gridStream, handle: null, video: null, stream: null };
    if (player) {
      const video = h('video', { muted: true, autoplay: true, playsinline: true });
      video.muted = true;
      screen.append(video, note);
      tile.video = video;
      playStream(tile, camera.id === expanded ? 'main' : tile.gridStream);
    } else {
      note.textContent = 'live video not available';
      screen.append(note);
    }
    return tile;
  }

  function showVideoState(tile, status) {
    tile.element.dataset.video = status.state;
    tile.note.hidden = status.state === 'playing';
    if (status.state === 'error') tile.note.textContent = `No video: ${status.message}`;
    else if (status.state === 'reconnecting') tile.note.textContent = 'Video lost, reconnecting…';
    else if (status.state === 'connecting') tile.note.textContent = 'Connecting video…';
  }

  /** (Re)opens the tile's video on `stream` ("sub" or "main"). */
  function playStream(tile, stream) {
    if (!player || !tile.video || tile.stream === stream) return;
    closeTile(tile);
    tile.stream = stream;
    tile.element.dataset.stream = stream;
    // a closed player may still report a late status: only the current one is shown
    const current = {};
    tile.current = current;
    try {
      tile.handle = player.attach(tile.video, tile.id, {
        token: ctx.session.token,
        stream,
        onStatus: (status) => tile.current === current && showVideoState(tile, status),
      });
    } catch (error) {
      showVideoState(tile, { state: 'error', message: error.message });
    }
  }

  function closeTile(tile) {
    if (tile.handle && typeof tile.handle.close === 'function') tile.handle.close();
    tile.handle = null;
  }

  function render() {
    const servers = byId(data.servers);
    const planned = byId(data.failover.cameras);
    const cameras = [...data.cameras].sort((a, b) => a.name.localeCompare(b.name) || a.id.localeCompare(b.id));
    const pages = Math.max(1, Math.ceil(cameras.length / layout));
    page = Math.min(page, pages - 1);
    pageInfo.textContent = `Page ${page + 1} of ${pages}`;
    prev.disabled = page === 0;
    next.disabled = page >= pages - 1;
    const shown = cameras.slice(page * layout, page * layout + layout);
    const keep = new Set(shown.map((c) => c.id));
    for (const [id, tile] of tiles) {
      if (!keep.has(id)) {
        closeTile(tile);
        tiles.delete(id);
      }
    }
    if (cameras.length === 0) {
      clear(grid).append(h('p', { class: 'muted' }, 'No cameras yet.'));
      return;
    }
    const order = [];
    for (const camera of shown) {
      let tile = tiles.get(camera.id);
      if (!tile) {
        tile = makeTile(camera);
        tiles.set(camera.id, tile);
      }
      const state = tileState(camera, servers, planned.get(camera.id));
      tile.name.textContent = camera.name;
      tile.state.textContent = state.text;
      tile.element.dataset.state = state.kind;
      tile.element.setAttribute('aria-label', `${camera.name}: ${state.text}`);
      tile.element.classList.toggle('expanded', camera.id === expanded);
      order.push(tile.element);
    }
    const current = [...grid.children];
    if (current.length !== order.length || current.some((el, i) => el !== order[i])) {
      grid.replaceChildren(...order);
    }
  }

  const watcher = watch(ctx, ['cameras', 'servers', 'failover'], (fresh) => {
    data = fresh;
    render();
  });
  return () => {
    watcher.stop();
    document.removeEventListener('fullscreenchange', onFullscreenChange);
    for (const tile of tiles.values()) closeTile(tile);
    tiles.clear();
  };
}
