// Readable lines for the Events screen. Pure: from the entries of the event log.

const GiB = 1024 ** 3;

/** One entry of the event log (GET /api/v1/events) -> {kind, text}. */
export function logEventText(event, serverName, cameraName) {
  const d = event.details || {};
  const server = serverName(event.server_id);
  const camera = cameraName(event.camera_id);
  switch (event.type) {
    case 'server_joined':
      return { kind: 'server-up', text: `Server ${d.name || server} joined the system` };
    case 'server_detached':
      return { kind: 'server', text: `Server ${server} was detached` };
    case 'server_suspect':
      return { kind: 'server-suspect', text: `Server ${server} does not answer (suspect)` };
    case 'server_dead':
      return { kind: 'server-down', text: `Server ${server} is down` };
    case 'server_alive':
      return { kind: 'server-up', text: `Server ${server} is up` };
    case 'camera_taken_over':
      return { kind: 'takeover', text: `${camera} taken over by ${serverName(d.to || event.server_id)}` };
    case 'camera_returned_home':
      return { kind: 'returned', text: `${camera} returned to ${serverName(d.to || event.server_id)}` };
    case 'camera_not_taken_over':
      return { kind: 'unrecorded', text: `${camera} not taken over: ${d.reason || d.why || 'no server takes it'}` };
    case 'camera_offline':
      return { kind: 'camera-offline', text: `${camera} offline: ${d.error || d.state || 'no answer'}` };
    case 'camera_online':
      return { kind: 'camera-online', text: `${camera} is back online` };
    case 'recording_gap': {
      const seconds = d.seconds !== undefined ? Number(d.seconds) : (Date.parse(d.end) - Date.parse(d.start)) / 1000;
      const length = Number.isFinite(seconds) && seconds > 0 ? ` of ${seconds.toFixed(1)} s` : '';
      return { kind: 'gap', text: `${camera}: recording gap${length} on ${server}` };
    }
    case 'disk_nearly_full': {
      const free = Number(d.free_bytes);
      const left = Number.isFinite(free) ? ` (${(free / GiB).toFixed(1)} GiB free)` : '';
      return { kind: 'disk', text: `Server ${server}: disk nearly full${left}` };
    }
    case 'server_clock_skew': {
      const offset = Number(d.offset_s);
      const by = Number.isFinite(offset) ? ` by ${Math.abs(offset).toFixed(1)} s (${offset > 0 ? 'ahead' : 'behind'})` : '';
      if (d.state === 'ok') return { kind: 'clock-ok', text: `Server ${server}: clock back in step` };
      const refused = d.state === 'refused' ? ', its messages are refused' : '';
      return { kind: 'clock', text: `Server ${server}: clock differs${by}${refused}` };
    }
    case 'retention_deleted':
      return { kind: 'retention', text: `Server ${server} deleted old recordings to make room` };
    default:
      return { kind: 'other', text: `${event.type} (${server})` };
  }
}
