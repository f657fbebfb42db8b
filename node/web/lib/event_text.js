// Readable lines for the Events screen. Pure: from the node's events and from
// changes between two views of the cameras (which server records each).

export function serverEventText(event, serverName) {
  const name = serverName(event.server_id);
  if (event.state === 'dead') return { kind: 'server-down', text: `Server ${name} is down` };
  if (event.state === 'alive') return { kind: 'server-up', text: `Server ${name} is up` };
  if (event.state === 'suspect') return { kind: 'server-suspect', text: `Server ${name} does not answer (suspect)` };
  return { kind: 'server', text: `Server ${name}: ${event.state}` };
}

/**
 * What changed for one camera between two lists (`before` may be undefined): taken
 * over by a backup, returned home, gone offline, back online. -> [{kind, text}]
 */
export function cameraChanges(before, after, serverName) {
  const out = [];
  if (!before) return out;
  const was = before.recording_server_id;
  const now = after.recording_server_id;
  const home = after.home_server_id;
  if (now && now !== was) {
    if (now !== home) out.push({ kind: 'takeover', text: `Camera ${after.name} taken over by ${serverName(now)}` });
    else if (was) out.push({ kind: 'returned', text: `Camera ${after.name} returned to ${serverName(now)}` });
  } else if (!now && was) {
    out.push({ kind: 'unrecorded', text: `Camera ${after.name} is not recorded by any server` });
  }
  const offline = (c) => c.status && (c.status.state === 'error' || c.status.state === 'reconnecting');
  if (offline(after) && !offline(before)) {
    out.push({ kind: 'camera-offline', text: `Camera ${after.name} offline: ${after.status.last_error || 'no answer'}` });
  } else if (!offline(after) && offline(before) && after.status.state === 'recording') {
    out.push({ kind: 'camera-online', text: `Camera ${after.name} is back online` });
  }
  return out;
}
