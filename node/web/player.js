// camkeep player: live view (WebRTC first, fragmented MP4 over a WebSocket for Media
// Source Extensions when WebRTC cannot carry the camera or fails) and playback of
// recordings. An ES module with no dependencies, served by every node at /player/.
//
//   import { attach, playback } from "/player/player.js";
//   const live = attach(videoElement, cameraId, { token, stream: "main" });
//   live.close();
//   const past = playback(videoElement, cameraId, { token, start: "2026-01-01T10:00:00Z", speed: 1 });
//   past.wallTime();  // the wall-clock time (Date) of the frame shown
//
// Options: `server` (base URL, default: this page's origin), `servers` (other nodes to
// try when this one goes away; default: the system's servers, fetched once),
// `prefer` ("webrtc" | "mse"), `onStatus(status)` with status {state, mode, message}.
// Any node serves any camera (it relays from the server that records it, and follows
// the camera through a failover); the player only moves to another node when its own
// node stops answering.

const RETRY_MS = 1000;
const STALL_MS = 6000; // no new decoded frame this long: reconnect
const LIVE_EDGE_S = 0.1; // MSE: after a jump, play this far behind the newest frame
const MAX_BEHIND_S = 0.6; // MSE: further behind than this, jump to the edge
const CATCH_UP_S = 0.25; // MSE: further behind than this, play a little faster
const KEEP_BUFFER_S = 20; // MSE: drop what is older than this
const ICE_GATHER_MS = 2000;

function baseUrl(server) {
  return (server || window.location.origin).replace(/\/$/, "");
}

function wsUrl(base) {
  return base.replace(/^http/, "ws");
}

function decodedFrames(video) {
  const quality = video.getVideoPlaybackQuality ? video.getVideoPlaybackQuality() : null;
  return quality ? quality.totalVideoFrames : 0;
}

// The system's servers, one request per node and token for all the players of a page
// (a grid of 16 tiles asked 16 times at once, in the middle of opening 16 streams).
const serverLists = new Map();
const SERVER_LIST_TTL_MS = 10000;

function systemServers(server, token) {
  const key = `${server} ${token}`;
  const known = serverLists.get(key);
  if (known && performance.now() - known.at < SERVER_LIST_TTL_MS) return known.list;
  const list = fetch(`${server}/api/v1/servers`, {
    headers: { Authorization: `Bearer ${token}` },
  }).then((answer) => (answer.ok ? answer.json() : []));
  list.catch(() => serverLists.delete(key));
  serverLists.set(key, { at: performance.now(), list });
  return list;
}

function codecWords(codec) {
  return codec === "hevc" ? "H.265" : "H.264";
}

// Feeds a MediaSource with init segments and fragments, in order.
class MseSink {
  constructor(video, { live }) {
    this.video = video;
    this.live = live;
    this.queue = [];
    this.buffer = null;
    this.mime = null;
    this.source = new MediaSource();
    this.url = URL.createObjectURL(this.source);
    this.opened = new Promise((resolve) => {
      this.source.addEventListener("sourceopen", resolve, { once: true });
    });
    video.srcObject = null;
    video.src = this.url;
  }

  async setType(mime) {
    await this.opened;
    if (this.buffer === null) {
      this.buffer = this.source.addSourceBuffer(mime);
      this.buffer.mode = "segments";
      this.buffer.addEventListener("updateend", () => this.pump());
    } else if (mime !== this.mime && this.buffer.changeType) {
      this.buffer.changeType(mime);
    }
    this.mime = mime;
  }

  push(data) {
    this.queue.push(data);
    this.pump();
  }

  pump() {
    const buffer = this.buffer;
    if (!buffer || buffer.updating || this.source.readyState !== "open") return;
    const video = this.video;
    if (this.live && buffer.buffered.length) {
      const end = buffer.buffered.end(buffer.buffered.length - 1);
      const start = buffer.buffered.start(0);
      const behind = end - video.currentTime;
      if (behind > MAX_BEHIND_S || video.currentTime < start) {
        video.currentTime = Math.max(start, end - LIVE_EDGE_S);
      }
      video.playbackRate = behind > CATCH_UP_S ? 1.1 : 1.0;
      if (video.currentTime - start > KEEP_BUFFER_S * 1.5) {
        buffer.remove(start, video.currentTime - KEEP_BUFFER_S);
        return;
      }
    }
    const next = this.queue.shift();
    if (next === undefined) return;
    try {
      buffer.appendBuffer(next);
    } catch (error) {
      if (error.name === "QuotaExceededError" && buffer.buffered.length) {
        this.queue.unshift(next);
        buffer.remove(buffer.buffered.start(0), video.currentTime - 2);
      } else {
        throw error;
      }
    }
    if (video.paused) video.play().catch(() => {});
  }

  close() {
    this.queue = [];
    try {
      if (this.source.readyState === "open") this.source.endOfStream();
    } catch (_) {
      // already ended
    }
    URL.revokeObjectURL(this.url);
  }
}

class LivePlayer {
  constructor(video, cameraId, options) {
    this.video = video;
    this.cameraId = cameraId;
    this.token = options.token;
    this.stream = options.stream || "main";
    this.prefer = options.prefer || "webrtc";
    this.onStatus = options.onStatus || (() => {});
    this.servers = [baseUrl(options.server), ...(options.servers || []).map(baseUrl)];
    this.fetchServers = options.servers === undefined;
    this.serverIndex = 0;
    this.mode = null;
    this.message = "";
    this.state = "connecting";
    this.closed = false;
    this.noWebRtc = this.prefer === "mse";
    this.cleanup = [];
    this.watchdog = null;
    video.muted = true;
    video.autoplay = true;
    video.playsInline = true;
    this.onPageHide = () => this.close();
    window.addEventListener("pagehide", this.onPageHide);
    this.start();
  }

  get server() {
    return this.servers[this.serverIndex % this.servers.length];
  }

  status(state, message = "") {
    this.state = state;
    this.message = message;
    this.onStatus({ state, mode: this.mode, message, server: this.server });
  }

  async start() {
    if (this.closed) return;
    this.teardown();
    if (this.fetchServers) {
      this.fetchServers = false;
      this.learnServers().catch(() => {});
    }
    try {
      if (!this.noWebRtc) {
        const reason = await this.startWebRtc();
        if (reason === null) return;
        this.noWebRtc = true; // this camera cannot go over WebRTC: MSE from now on
        this.webRtcRefusal = reason;
      }
      await this.startMse();
    } catch (error) {
      if (error && error.fatal) {
        this.status("error", error.message);
        return;
      }
      this.retryChecked(error && error.message ? error.message : String(error));
    }
  }

  // Retry, on the next node when this one does not answer.
  async retryChecked(why) {
    const alive = await fetch(`${this.server}/api/v1/health`).then(
      (r) => r.ok,
      () => false,
    );
    this.retry(why, !alive);
  }

  async learnServers() {
    for (const server of await systemServers(this.server, this.token)) {
      const url = baseUrl(server.url);
      if (!this.servers.includes(url)) this.servers.push(url);
    }
  }

  retry(why, nextServer = false) {
    if (this.closed) return;
    this.teardown();
    if (nextServer) this.serverIndex += 1;
    this.status("reconnecting", why);
    const timer = setTimeout(() => this.start(), RETRY_MS);
    this.cleanup.push(() => clearTimeout(timer));
  }

  watchFrames() {
    // A stream that stops decoding (node gone, network cut) is reopened, on the next
    // node when this one does not answer.
    let frames = decodedFrames(this.video);
    let since = performance.now();
    const timer = setInterval(async () => {
      const now = decodedFrames(this.video);
      if (now !== frames) {
        frames = now;
        since = performance.now();
        if (this.state !== "playing") this.status("playing");
        return;
      }
      if (performance.now() - since > STALL_MS) {
        since = performance.now();
        this.retryChecked("no video for a while");
      }
    }, 500);
    this.cleanup.push(() => clearInterval(timer));
  }

  // Resolves null when WebRTC plays, or the reason it cannot carry this camera.
  async startWebRtc() {
    this.mode = "webrtc";
    this.status("connecting");
    const pc = new RTCPeerConnection({ iceServers: [] });
    this.cleanup.push(() => pc.close());
    pc.addTransceiver("video", { direction: "recvonly" });
    pc.ontrack = (event) => {
      this.video.src = "";
      this.video.srcObject = event.streams[0] || new MediaStream([event.track]);
      this.video.play().catch(() => {});
    };
    await pc.setLocalDescription(await pc.createOffer());
    await new Promise((resolve) => {
      if (pc.iceGatheringState === "complete") return resolve();
      const timer = setTimeout(resolve, ICE_GATHER_MS);
      pc.addEventListener("icegatheringstatechange", () => {
        if (pc.iceGatheringState === "complete") {
          clearTimeout(timer);
          resolve();
        }
      });
    });
    const url = `${this.server}/api/v1/cameras/${encodeURIComponent(this.cameraId)}/webrtc?stream=${this.stream}`;
    const answer = await fetch(url, {
      method: "POST",
      headers: { "Content-Type": "application/sdp", Authorization: `Bearer ${this.token}` },
      body: pc.localDescription.sdp,
    });
    if (answer.status === 415) return (await answer.json()).error;
    if (answer.status === 401 || answer.status === 403 || answer.status === 404) {
      const error = new Error((await answer.json()).error);
      error.fatal = true;
      throw error;
    }
    if (!answer.ok) throw new Error(`WebRTC refused (${answer.status})`);
    const location = answer.headers.get("Location");
    const server = this.server;
    this.cleanup.push(() => {
      // keepalive: the request outlives a page that is closing
      fetch(`${server}${location}`, {
        method: "DELETE",
        headers: { Authorization: `Bearer ${this.token}` },
        keepalive: true,
      }).catch(() => {});
    });
    await pc.setRemoteDescription({ type: "answer", sdp: await answer.text() });
    pc.addEventListener("connectionstatechange", () => {
      if (pc.connectionState === "failed") this.retryChecked("WebRTC connection failed");
    });
    this.watchFrames();
    return null;
  }

  async startMse() {
    this.mode = "mse";
    this.status("connecting", this.webRtcRefusal || "");
    const url =
      `${wsUrl(this.server)}/api/v1/cameras/${encodeURIComponent(this.cameraId)}/live` +
      `?stream=${this.stream}&token=${encodeURIComponent(this.token)}`;
    const socket = new WebSocket(url);
    socket.binaryType = "arraybuffer";
    let sink = null;
    this.cleanup.push(() => {
      socket.onclose = null;
      socket.close();
      if (sink) sink.close();
    });
    socket.onmessage = async (event) => {
      if (typeof event.data === "string") {
        const message = JSON.parse(event.data);
        if (message.type === "stream") {
          if (!window.MediaSource || !MediaSource.isTypeSupported(message.mime)) {
            const words = codecWords(message.codec);
            this.status(
              "error",
              `This browser cannot play ${words} video, which this camera sends.`,
            );
            socket.onclose = null;
            socket.close();
            return;
          }
          if (sink === null) sink = new MseSink(this.video, { live: true });
          await sink.setType(message.mime);
        } else if (message.type === "error") {
          this.status("error", message.reason);
        }
        return;
      }
      if (sink) sink.push(event.data);
    };
    socket.onclose = (event) => {
      if (event.code === 4401 || event.code === 4404 || event.code === 4422) {
        this.status("error", event.reason || "refused");
        return;
      }
      this.retryChecked(event.reason || "live stream closed");
    };
    this.watchFrames();
  }

  teardown() {
    const steps = this.cleanup;
    this.cleanup = [];
    for (const step of steps) {
      try {
        step();
      } catch (_) {
        // best effort
      }
    }
  }

  close() {
    this.closed = true;
    window.removeEventListener("pagehide", this.onPageHide);
    this.teardown();
    this.video.srcObject = null;
    this.video.removeAttribute("src");
  }
}

export function attach(video, cameraId, options = {}) {
  return new LivePlayer(video, cameraId, options);
}

function parseTimeline(text) {
  if (!text) return null;
  const timeline = JSON.parse(text);
  timeline.pieces = timeline.pieces.map((p) => ({
    ...p,
    startMs: Date.parse(p.start),
    endMs: Date.parse(p.end),
  }));
  return timeline;
}

// The wall-clock time (ms) shown at media time `seconds` of a playback answer.
export function wallTimeAt(timeline, seconds) {
  if (!timeline || !timeline.pieces.length) return null;
  let piece = timeline.pieces[0];
  for (const candidate of timeline.pieces) {
    if (candidate.media_s <= seconds) piece = candidate;
  }
  const ms = piece.startMs + (seconds - piece.media_s) * 1000 * timeline.speed;
  return Math.min(ms, piece.endMs);
}

class PlaybackPlayer {
  constructor(video, cameraId, options) {
    this.video = video;
    this.timeline = null;
    this.closed = false;
    this.controller = new AbortController();
    const base = baseUrl(options.server);
    const start = options.start instanceof Date ? options.start.toISOString() : options.start;
    const query = `start=${encodeURIComponent(start)}&speed=${options.speed || 1}`;
    this.url = `${base}/api/v1/cameras/${encodeURIComponent(cameraId)}/playback?${query}`;
    this.token = options.token;
    this.onStatus = options.onStatus || (() => {});
    video.muted = true;
    video.autoplay = true;
    this.ready = options.mse === false ? this.startPlain() : this.startMse();
  }

  async startPlain() {
    // A plain <video> plays the answer itself; the timeline comes from the headers of
    // a request closed as soon as they arrive.
    const head = await fetch(this.url, {
      headers: { Authorization: `Bearer ${this.token}` },
      signal: this.controller.signal,
    });
    this.timeline = parseTimeline(head.headers.get("X-Camkeep-Timeline"));
    head.body && head.body.cancel();
    if (!head.ok) return this.fail(head);
    this.video.src = `${this.url}&token=${encodeURIComponent(this.token)}`;
    this.video.play().catch(() => {});
    this.onStatus({ state: "playing", mode: "plain" });
  }

  async startMse() {
    const answer = await fetch(this.url, {
      headers: { Authorization: `Bearer ${this.token}` },
      signal: this.controller.signal,
    });
    if (!answer.ok) return this.fail(answer);
    this.timeline = parseTimeline(answer.headers.get("X-Camkeep-Timeline"));
    this.next = answer.headers.get("X-Camkeep-Next");
    const reader = answer.body.getReader();
    let sink = null;
    let pending = new Uint8Array(0);
    this.onStatus({ state: "playing", mode: "mse" });
    for (;;) {
      const { done, value } = await reader.read();
      if (done || this.closed) break;
      // Boxes are appended whole: find the init segment's codec from its first bytes.
      pending = concat(pending, value);
      if (sink === null) {
        const mime = mimeOfInit(pending);
        if (mime === null) continue;
        if (!MediaSource.isTypeSupported(mime)) {
          this.onStatus({ state: "error", message: "This browser cannot play this video." });
          return;
        }
        sink = new MseSink(this.video, { live: false });
        await sink.setType(mime);
      }
      const [whole, rest] = splitBoxes(pending);
      pending = rest;
      if (whole.length) sink.push(whole);
      while (sink.queue.length > 8) await new Promise((r) => setTimeout(r, 50));
    }
    if (sink && pending.length) sink.push(pending);
  }

  async fail(answer) {
    let reason = `${answer.status}`;
    try {
      reason = (await answer.json()).error;
    } catch (_) {
      // not JSON
    }
    this.onStatus({ state: "error", message: reason });
  }

  wallTime() {
    const ms = wallTimeAt(this.timeline, this.video.currentTime);
    return ms === null ? null : new Date(ms);
  }

  close() {
    this.closed = true;
    this.controller.abort();
    this.video.removeAttribute("src");
  }
}

function concat(a, b) {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

// [complete top-level boxes, the incomplete rest]
function splitBoxes(bytes) {
  let at = 0;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  while (at + 8 <= bytes.length) {
    const size = view.getUint32(at);
    if (size < 8 || at + size > bytes.length) break;
    at += size;
  }
  return [bytes.slice(0, at), bytes.slice(at)];
}

// The MSE type of an init segment: avc1/hvc1 with the profile from avcC/hvcC.
function mimeOfInit(bytes) {
  const text = new TextDecoder("latin1").decode(bytes);
  const moovEnd = text.indexOf("moov");
  if (moovEnd < 0) return null;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const moovSize = view.getUint32(moovEnd - 4);
  if (moovEnd - 4 + moovSize > bytes.length) return null;
  const avcC = text.indexOf("avcC");
  if (avcC >= 0) {
    const hex = (i) => bytes[avcC + 4 + i].toString(16).padStart(2, "0");
    return `video/mp4; codecs="avc1.${hex(1)}${hex(2)}${hex(3)}"`;
  }
  if (text.indexOf("hvcC") >= 0) return 'video/mp4; codecs="hvc1.1.6.L93.B0"';
  return null;
}

export function playback(video, cameraId, options = {}) {
  return new PlaybackPlayer(video, cameraId, options);
}
