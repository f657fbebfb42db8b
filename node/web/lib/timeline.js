// The playback timeline as numbers. Pure: what part of the track each recorded
// period covers at a zoom level, the tick marks, and the time under a click.

export const ZOOMS = [
  { label: '24 h', ms: 24 * 3600e3, tick: 3 * 3600e3 },
  { label: '6 h', ms: 6 * 3600e3, tick: 3600e3 },
  { label: '1 h', ms: 3600e3, tick: 10 * 60e3 },
  { label: '15 min', ms: 15 * 60e3, tick: 60e3 },
  { label: '5 min', ms: 5 * 60e3, tick: 60e3 },
];

/** Periods [{start, end, server_id}] (ISO text) as bars within [viewStart, viewEnd). */
export function bars(periods, viewStart, viewEnd) {
  const span = viewEnd - viewStart;
  const out = [];
  for (const period of periods) {
    const start = Math.max(Date.parse(period.start), viewStart);
    const end = Math.min(Date.parse(period.end), viewEnd);
    if (!(end > start)) continue;
    out.push({
      left: ((start - viewStart) / span) * 100,
      width: Math.max(((end - start) / span) * 100, 0.15), // a short period stays visible
      serverId: period.server_id,
      start,
      end,
    });
  }
  return out;
}

/** The gaps between periods inside the view: [{start, end}] in ms. */
export function gaps(periods, viewStart, viewEnd) {
  const spans = periods
    .map((p) => [Math.max(Date.parse(p.start), viewStart), Math.min(Date.parse(p.end), viewEnd)])
    .filter(([s, e]) => e > s)
    .sort((a, b) => a[0] - b[0]);
  const out = [];
  let cursor = viewStart;
  for (const [start, end] of spans) {
    if (start > cursor) out.push({ start: cursor, end: start });
    cursor = Math.max(cursor, end);
  }
  if (cursor < viewEnd) out.push({ start: cursor, end: viewEnd });
  return out;
}

/** Tick marks: [{left (percent), at (ms)}] on whole multiples of the zoom's tick. */
export function ticks(viewStart, viewEnd, tickMs) {
  const out = [];
  const offset = new Date(viewStart).getTimezoneOffset() * 60e3; // ticks on local whole hours
  let at = Math.ceil((viewStart - offset) / tickMs) * tickMs + offset;
  for (; at <= viewEnd; at += tickMs) out.push({ left: ((at - viewStart) / (viewEnd - viewStart)) * 100, at });
  return out;
}

/** The time at a fraction (0..1) of the track. */
export function timeAt(fraction, viewStart, viewEnd) {
  return Math.round(viewStart + Math.min(Math.max(fraction, 0), 1) * (viewEnd - viewStart));
}

/** A view of `spanMs` centred on `centre`, not reaching past `now`. */
export function viewAround(centre, spanMs, now) {
  let end = centre + spanMs / 2;
  if (end > now) end = now;
  return [end - spanMs, end];
}

/** Date -> the value of an <input type="datetime-local" step="1"> in local time. */
export function toLocalInput(ms) {
  const d = new Date(ms);
  const pad = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

export const PALETTE = ['#2b8a3e', '#1c7ed6', '#e8590c', '#9c36b5', '#0b7285', '#c2255c', '#5c940d', '#862e9c'];

/** One colour per server, stable for a list of server ids. */
export function serverColours(serverIds) {
  return new Map([...serverIds].sort().map((id, i) => [id, PALETTE[i % PALETTE.length]]));
}
