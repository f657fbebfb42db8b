// The video player module (WebRTC with an MSE fallback) is served by the node as
// /web/player.js when the node has the live-video routes. Screens ask for it once;
// without it they show the camera's state and say that live video is not available.

let loading = null;

export function loadPlayer() {
  if (!loading) {
    loading = import('/web/player.js').then(
      (module) => (typeof module.attach === 'function' ? module : null),
      () => null,
    );
  }
  return loading;
}
