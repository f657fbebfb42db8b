// What a live tile says about its camera. Pure: from the camera as the API lists it
// (status, home and recording server), the servers and the failover view.

const OFFLINE = new Set(['error', 'reconnecting']);

/**
 * -> {kind, text}; kind is one of
 *   "home"       recording on its home server
 *   "backup"     recording on a backup server after a failover
 *   "offline"    the recording server cannot reach the camera (with the last error)
 *   "unrecorded" no server records it (priority Never, no free channel, recording off)
 *   "starting"   placed, the recorder is connecting
 */
export function tileState(camera, servers, failoverCamera) {
  const serverName = (id) => {
    const server = servers.get(id);
    return server ? server.name || id.slice(0, 8) : id ? id.slice(0, 8) : '?';
  };
  const status = camera.status || {};
  const recordingOn = camera.recording_server_id;
  if (!camera.continuous_recording) {
    return { kind: 'unrecorded', text: 'Not recorded: continuous recording is off' };
  }
  if (recordingOn && OFFLINE.has(status.state)) {
    return { kind: 'offline', text: `Offline: ${status.last_error || 'the camera does not answer'}` };
  }
  if (recordingOn && status.state === 'connecting') {
    return { kind: 'starting', text: `Connecting on ${serverName(recordingOn)}…` };
  }
  if (recordingOn) {
    if (recordingOn === camera.home_server_id) {
      return { kind: 'home', text: `Recording here, on ${serverName(recordingOn)}` };
    }
    return { kind: 'backup', text: `Recording on backup server ${serverName(recordingOn)}` };
  }
  const planned = failoverCamera ? failoverCamera.planned_server_id : undefined;
  if (failoverCamera && !planned) {
    const reason = failoverCamera.unplaced_reason || 'no server takes it';
    const never = camera.priority === 'never';
    return { kind: 'unrecorded', text: `Not recorded: ${never ? 'priority Never' : reason}` };
  }
  if (planned) {
    const home = planned === camera.home_server_id;
    return { kind: 'starting', text: `Starting on ${home ? '' : 'backup server '}${serverName(planned)}…` };
  }
  return { kind: 'starting', text: 'Waiting for a recording server…' };
}
