// Playback: per camera, a zoomable timeline (24 hours down to 5 minutes) with the
// recorded periods coloured by the server that holds them and the gaps left
// blank; a click plays from there through the player's playback stream (which
// crosses gaps and servers), with the wall-clock time of the frame shown. Export a
// range as one MP4 with progress.
import { h, field, clear } from '../lib/dom.js';
import { bars, gaps, serverColours, ticks, timeAt, toLocalInput, viewAround, ZOOMS } from '../lib/timeline.js';
import { loadPlayer } from '../lib/player_loader.js';

const EXPORT_MS = 120e3; // a click proposes this much after it as the export range

export function mount(ctx, container) {
  const { api } = ctx;
  let cameras = [];
  let servers = [];
  let zoom = 2;
  let [viewStart, viewEnd] = viewAround(Date.now(), ZOOMS[zoom].ms, Date.now());
  let periods = [];
  let playhead = null;
  let player = null;
  let playbackHandle = null;
  let loadVersion = 0;
  let stopped = false;

  const camera = field('Camera', { id: 'playback-camera' }, { tag: 'select', options: [] });
  const zoomButtons = ZOOMS.map((z, i) =>
    h('button', { type: 'button', 'aria-pressed': String(i === zoom), onclick: () => setZoom(i, zoomCentre()) }, z.label),
  );
  const earlier = h('button', { type: 'button', 'aria-label': 'Earlier', onclick: () => pan(-0.5) }, '◀');
  const later = h('button', { type: 'button', 'aria-label': 'Later', onclick: () => pan(0.5) }, '▶');
  const toNow = h('button', { type: 'button', onclick: () => setZoom(zoom, Date.now()) }, 'Now');
  const range = h('p', { class: 'muted', id: 'timeline-range' });
  const track = h('div', {
    class: 'track',
    id: 'timeline',
    tabindex: '0',
    role: 'slider',
    'aria-label': 'Timeline: click or use the arrow keys to choose where to play',
  });
  const axis = h('div', { class: 'axis', 'aria-hidden': 'true' });
  const legend = h('ul', { class: 'legend', id: 'timeline-legend' });
  const status = h('p', { id: 'playback-status', role: 'status', 'aria-live': 'polite' });
  const video = h('video', { controls: true, id: 'playback-video', playsinline: true });
  video.muted = true;

  const from = field('Export from', { type: 'datetime-local', step: 1, id: 'export-from' });
  const to = field('to', { type: 'datetime-local', step: 1, id: 'export-to' });
  const exportButton = h('button', { type: 'button', id: 'export-button' }, 'Export MP4');
  const progress = h('progress', { id: 'export-progress', max: 1, value: 0, hidden: true, 'aria-label': 'Export progress' });
  const exportStatus = h('p', { id: 'export-status', role: 'status', 'aria-live': 'polite' });
  const fromPlayhead = h('button', { type: 'button', onclick: () => playhead && (from.input.value = toLocalInput(playhead)) }, 'From playhead');
  const toPlayhead = h('button', { type: 'button', onclick: () => playhead && (to.input.value = toLocalInput(playhead)) }, 'To playhead');

  container.append(
    h('div', { class: 'toolbar' }, camera.wrap, h('div', { class: 'segmented', role: 'group', 'aria-label': 'Zoom' }, zoomButtons), earlier, toNow, later),
    range,
    h('div', { class: 'timeline' }, track, axis),
    legend,
    status,
    h('div', { class: 'player' }, video),
    h(
      'section',
      { 'aria-labelledby': 'export-title' },
      h('h2', { id: 'export-title' }, 'Export'),
      h('div', { class: 'inline-form' }, from.wrap, fromPlayhead, to.wrap, toPlayhead, exportButton),
      progress,
      exportStatus,
    ),
  );

  const cameraId = () => camera.input.value;
  const followingNow = () => viewEnd >= Date.now() - (viewEnd - viewStart) * 0.1;

  /** Zoom around the playhead when it is in view; a view that shows "now" keeps it. */
  function zoomCentre() {
    if (playhead !== null && playhead >= viewStart && playhead <= viewEnd) return playhead;
    return followingNow() ? Date.now() : (viewStart + viewEnd) / 2;
  }

  function setZoom(index, centre) {
    zoom = index;
    zoomButtons.forEach((b, i) => b.setAttribute('aria-pressed', String(i === zoom)));
    [viewStart, viewEnd] = viewAround(centre, ZOOMS[zoom].ms, Date.now());
    loadPeriods();
  }

  function pan(fraction) {
    const span = viewEnd - viewStart;
    [viewStart, viewEnd] = viewAround((viewStart + viewEnd) / 2 + fraction * span, span, Date.now());
    loadPeriods();
  }

  track.addEventListener('click', (event) => {
    const box = track.getBoundingClientRect();
    play(timeAt((event.clientX - box.left) / box.width, viewStart, viewEnd));
  });
  track.addEventListener('wheel', (event) => {
    event.preventDefault();
    const box = track.getBoundingClientRect();
    const centre = timeAt((event.clientX - box.left) / box.width, viewStart, viewEnd);
    const next = Math.min(Math.max(zoom + (event.deltaY < 0 ? 1 : -1), 0), ZOOMS.length - 1);
    if (next !== zoom) setZoom(next, centre);
  }, { passive: false });
  track.addEventListener('keydown', (event) => {
    const step = ZOOMS[zoom].tick / 2;
    const at = playhead ?? (viewStart + viewEnd) / 2;
    if (event.key === 'ArrowLeft') play(at - step);
    else if (event.key === 'ArrowRight') play(Math.min(at + step, Date.now()));
    else if (event.key === '+') setZoom(Math.min(zoom + 1, ZOOMS.length - 1), at);
    else if (event.key === '-') setZoom(Math.max(zoom - 1, 0), at);
    else return;
    event.preventDefault();
  });
  camera.input.addEventListener('change', () => {
    stopPlayback();
    loadPeriods();
  });

  function draw() {
    const colours = serverColours(servers.map((s) => s.id));
    const name = (id) => servers.find((s) => s.id === id)?.name || (id ? id.slice(0, 8) : '?');
    range.textContent = `${new Date(viewStart).toLocaleString(undefined, { hour12: false })} – ${new Date(viewEnd).toLocaleString(undefined, { hour12: false })}`;
    clear(track);
    for (const gap of gaps(periods, viewStart, viewEnd)) {
      const element = h('div', { class: 'gap', title: 'not recorded' });
      element.style.left = `${((gap.start - viewStart) / (viewEnd - viewStart)) * 100}%`;
      element.style.width = `${((gap.end - gap.start) / (viewEnd - viewStart)) * 100}%`;
      track.append(element);
    }
    for (const bar of bars(periods, viewStart, viewEnd)) {
      const element = h('div', { class: 'period', dataset: { serverId: bar.serverId }, title: `recorded on ${name(bar.serverId)}` });
      element.style.left = `${bar.left}%`;
      element.style.width = `${bar.width}%`;
      element.style.background = colours.get(bar.serverId) || '#888';
      track.append(element);
    }
    if (playhead !== null && playhead >= viewStart && playhead <= viewEnd) {
      const line = h('div', { class: 'playhead', id: 'playhead' });
      line.style.left = `${((playhead - viewStart) / (viewEnd - viewStart)) * 100}%`;
      track.append(line);
    }
    clear(axis);
    for (const tick of ticks(viewStart, viewEnd, ZOOMS[zoom].tick)) {
      const label = h('span', {}, new Date(tick.at).toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit', hour12: false }));
      label.style.left = `${tick.left}%`;
      axis.append(label);
    }
    const holders = [...new Set(periods.map((p) => p.server_id))];
    legend.replaceChildren(
      ...holders.map((id) => {
        const swatch = h('span', { class: 'swatch', 'aria-hidden': 'true' });
        swatch.style.background = colours.get(id) || '#888';
        return h('li', {}, swatch, `recorded on ${name(id)}`);
      }),
      h('li', {}, h('span', { class: 'swatch gap-swatch', 'aria-hidden': 'true' }), 'not recorded'),
    );
    track.setAttribute('aria-valuetext', playhead === null ? 'nothing chosen' : new Date(playhead).toLocaleString());
  }

  async function loadPeriods() {
    const version = ++loadVersion;
    draw();
    if (!cameraId()) return;
    const query = `start=${encodeURIComponent(new Date(viewStart).toISOString())}&end=${encodeURIComponent(new Date(viewEnd).toISOString())}`;
    try {
      const answer = await api.get(`/api/v1/cameras/${encodeURIComponent(cameraId())}/recordings?${query}`);
      if (version !== loadVersion || stopped) return;
      periods = answer.periods;
      if (answer.unreachable_servers) status.textContent = `Some servers did not answer: their recordings are missing here.`;
      draw();
    } catch (error) {
      if (version === loadVersion) status.textContent = error.reason || error.message;
    }
  }

  function stopPlayback() {
    if (playbackHandle && typeof playbackHandle.close === 'function') playbackHandle.close();
    playbackHandle = null;
    video.removeAttribute('src');
    video.load();
  }

  const clock = (ms) => new Date(ms).toLocaleString(undefined, { hour12: false });

  // the wall-clock time of the frame on screen, and the playhead with it
  video.addEventListener('timeupdate', () => {
    const shown = playbackHandle && playbackHandle.wallTime ? playbackHandle.wallTime() : null;
    if (!shown) return;
    status.textContent = `Playing ${clock(shown.getTime())}`;
    status.dataset.wallTime = shown.toISOString();
    playhead = shown.getTime();
    const line = track.querySelector('#playhead');
    if (line && playhead >= viewStart && playhead <= viewEnd) {
      line.style.left = `${((playhead - viewStart) / (viewEnd - viewStart)) * 100}%`;
    }
  });

  function play(at) {
    playhead = at;
    draw();
    stopPlayback();
    from.input.value = toLocalInput(at);
    to.input.value = toLocalInput(Math.min(at + EXPORT_MS, Date.now()));
    delete status.dataset.wallTime;
    status.dataset.requested = new Date(at).toISOString();
    if (!player || typeof player.playback !== 'function') {
      status.textContent = 'Playback is not available on this server; export the range instead.';
      return;
    }
    status.textContent = `Loading the recording from ${clock(at)}…`;
    const handle = player.playback(video, cameraId(), {
      token: ctx.session.token,
      start: new Date(at).toISOString(),
      onStatus: (state) => {
        if (handle !== playbackHandle) return;
        if (state.state === 'error') status.textContent = `Nothing to play there: ${state.message}`;
      },
    });
    playbackHandle = handle;
  }

  exportButton.addEventListener('click', async () => {
    exportStatus.textContent = '';
    const start = Date.parse(from.input.value ? new Date(from.input.value).toISOString() : '');
    const end = Date.parse(to.input.value ? new Date(to.input.value).toISOString() : '');
    from.error.textContent = Number.isNaN(start) ? 'choose a start time' : '';
    to.error.textContent = Number.isNaN(end) ? 'choose an end time' : !(end > start) ? 'the end must be after the start' : '';
    if (Number.isNaN(start) || Number.isNaN(end) || !(end > start)) return;
    exportButton.disabled = true;
    progress.hidden = false;
    progress.removeAttribute('value'); // indeterminate while the node joins the pieces
    exportStatus.textContent = 'Preparing the MP4 on the server…';
    try {
      const answer = await api.get(
        `/api/v1/cameras/${encodeURIComponent(cameraId())}/export?start=${encodeURIComponent(new Date(start).toISOString())}&end=${encodeURIComponent(new Date(end).toISOString())}`,
        { raw: true },
      );
      const total = Number(answer.headers.get('content-length')) || 0;
      const reader = answer.body.getReader();
      const chunks = [];
      let received = 0;
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        chunks.push(value);
        received += value.length;
        if (total) {
          progress.max = total;
          progress.value = received;
          exportStatus.textContent = `Downloading: ${Math.round((received / total) * 100)} %`;
        }
      }
      const blob = new Blob(chunks, { type: 'video/mp4' });
      const url = URL.createObjectURL(blob);
      const disposition = answer.headers.get('content-disposition') || '';
      const match = /filename\*?=(?:UTF-8'')?"?([^";]+)"?/i.exec(disposition);
      const link = h('a', { href: url, download: match ? decodeURIComponent(match[1]) : 'export.mp4', id: 'export-link' }, 'Save the MP4 again');
      exportStatus.replaceChildren(`Exported ${(received / 1048576).toFixed(1)} MiB. `, link);
      link.click();
    } catch (error) {
      exportStatus.textContent = `Export failed: ${error.reason || error.message}`;
    } finally {
      exportButton.disabled = false;
      progress.hidden = true;
    }
  });

  (async () => {
    const [cameraList, serverList, loaded] = await Promise.all([
      api.get('/api/v1/cameras').catch(() => []),
      api.get('/api/v1/servers').catch(() => []),
      loadPlayer(),
    ]);
    if (stopped) return;
    player = loaded;
    cameras = cameraList.slice().sort((a, b) => a.name.localeCompare(b.name));
    servers = serverList;
    for (const c of cameras) camera.input.append(h('option', { value: c.id }, c.name));
    const wanted = new URLSearchParams(location.hash.split('?')[1] || '').get('camera');
    if (wanted && cameras.some((c) => c.id === wanted)) camera.input.value = wanted;
    if (cameras.length === 0) status.textContent = 'No cameras yet.';
    loadPeriods();
  })();
  const timer = setInterval(() => {
    if (followingNow()) {
      // following "now": slide the view and fetch the new end
      [viewStart, viewEnd] = viewAround(Date.now(), ZOOMS[zoom].ms, Date.now());
      loadPeriods();
    }
  }, 10000);

  return () => {
    stopped = true;
    clearInterval(timer);
    stopPlayback();
  };
}
