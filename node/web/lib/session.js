// The logged-in user of this tab: token, name, role and expiry in sessionStorage
// (one tab, one session; closing the tab forgets it).

const KEY = 'camkeep.session';
const RANK = { viewer: 0, admin: 1, owner: 2 };

export function roleAllows(role, needed) {
  return (RANK[role] ?? -1) >= (RANK[needed] ?? 99);
}

export function loadSession() {
  try {
    const value = JSON.parse(sessionStorage.getItem(KEY) || 'null');
    if (!value || typeof value.token !== 'string') return null;
    if (Date.parse(value.expiresAt) <= Date.now()) return null;
    return value;
  } catch {
    return null;
  }
}

export function saveSession(session) {
  sessionStorage.setItem(KEY, JSON.stringify(session));
}

export function clearSession() {
  sessionStorage.removeItem(KEY);
}

/**
 * A session handed over in the URL fragment when the client moves to another node
 * of the system (this one died): `#resume=<base64url JSON>`. The fragment never
 * reaches a server; it is removed from the address bar at once.
 */
export function takeResumedSession() {
  const match = /^#resume=([A-Za-z0-9_-]+)/.exec(location.hash);
  if (!match) return null;
  history.replaceState(null, '', `${location.pathname}#/live`);
  try {
    const text = atob(match[1].replace(/-/g, '+').replace(/_/g, '/'));
    const value = JSON.parse(text);
    if (typeof value.token !== 'string') return null;
    saveSession(value);
    return value;
  } catch {
    return null;
  }
}

export function resumeFragment(session) {
  const text = btoa(JSON.stringify(session));
  return `#resume=${text.replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '')}`;
}

/** The session a log-in answer opens (POST /api/v1/auth/login). */
export function sessionFromLogin(answer, username) {
  return {
    token: answer.token,
    username,
    role: answer.role,
    expiresAt: answer.expires_at,
    servers: answer.server_urls,
  };
}
