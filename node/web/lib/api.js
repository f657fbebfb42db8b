// The node's HTTP API, same origin. Errors come back as ApiError with the API's
// reason; a failed connection (the node is down) is reported to onConnectionLost.

export class ApiError extends Error {
  constructor(status, reason, detail) {
    super(reason);
    this.status = status;
    this.reason = reason;
    this.detail = detail || [];
  }
}

export class ConnectionError extends Error {}

export const LAST_SERVER_MESSAGE =
  'All servers in this system have been removed, please set up system or contact administrator';
const SYSTEM_GONE = 'no longer belongs to a system';

export class Api {
  constructor() {
    this.token = null;
    this.onUnauthorized = () => {}; // (reason, systemGone) => void
    this.onConnectionLost = () => {};
    this.onConnectionOk = () => {};
  }

  async request(method, path, body, { signal, raw = false } = {}) {
    const headers = {};
    if (this.token) headers.Authorization = `Bearer ${this.token}`;
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    let answer;
    try {
      answer = await fetch(path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal,
        cache: 'no-store',
      });
    } catch (error) {
      if (error.name === 'AbortError') throw error;
      this.onConnectionLost();
      throw new ConnectionError('the server does not answer');
    }
    this.onConnectionOk();
    if (answer.ok) {
      if (raw) return answer;
      if (answer.status === 204) return null;
      return answer.json();
    }
    let reason = `${answer.status} ${answer.statusText}`;
    let detail = [];
    try {
      const data = await answer.json();
      if (data && typeof data.error === 'string') reason = data.error;
      if (data && Array.isArray(data.detail)) detail = data.detail;
    } catch {
      // not JSON: keep the status line
    }
    // a refused token says "WWW-Authenticate: Bearer"; other 401s (a wrong owner
    // password in a form) are about what was typed, not the session
    if (answer.status === 401 && this.token && answer.headers.has('www-authenticate')) {
      this.onUnauthorized(reason, reason.includes(SYSTEM_GONE));
    }
    throw new ApiError(answer.status, reason, detail);
  }

  get(path, options) {
    return this.request('GET', path, undefined, options);
  }

  post(path, body, options) {
    return this.request('POST', path, body, options);
  }

  put(path, body, options) {
    return this.request('PUT', path, body, options);
  }

  patch(path, body, options) {
    return this.request('PATCH', path, body, options);
  }

  delete(path, options) {
    return this.request('DELETE', path, undefined, options);
  }
}

/**
 * Which field an API error is about: the API names it either as a validation
 * location ("body.owner.password") or as the reason's first word ("max_cameras: ...",
 * "rtsp_url must ...").
 * `fields` maps names as the API spells them to anything (inputs); returns the
 * matching key or null (the error then belongs to the whole form).
 */
export function fieldOfError(error, fields) {
  const names = Object.keys(fields).sort((a, b) => b.length - a.length);
  const locations = (error.detail || []).map((d) => String(d.loc || '').replace(/^body\./, ''));
  for (const location of locations) {
    for (const name of names) if (location === name || location.endsWith(`.${name}`)) return name;
  }
  const reason = String(error.reason || error.message || '');
  const prefix = reason.replace(/^invalid request: (body\.)?/, '');
  for (const name of names) {
    if ([':', '/', ' '].some((after) => prefix.startsWith(`${name}${after}`))) return name;
  }
  return null;
}

/** Show an API error next to its field (or in `formError`); clears the others. */
export function showError(error, fields, formError) {
  for (const slot of Object.values(fields)) slot.textContent = '';
  if (formError) formError.textContent = '';
  const reason = error instanceof ApiError ? error.reason : String(error.message || error);
  const name = error instanceof ApiError ? fieldOfError(error, fields) : null;
  const slot = name ? fields[name] : formError;
  if (slot) slot.textContent = reason;
  return reason;
}

export function clearErrors(fields, formError) {
  for (const slot of Object.values(fields)) slot.textContent = '';
  if (formError) formError.textContent = '';
}
