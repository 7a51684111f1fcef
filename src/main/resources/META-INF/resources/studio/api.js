// Every request the page makes goes through here, so the API key is added in one place.

const KEY = 'denoise.apiKey';

/** The API key this browser keeps (localStorage), or null. */
export function apiKey() {
  return localStorage.getItem(KEY);
}

/** Keeps a key for the next requests (an empty one forgets it). */
export function setApiKey(key) {
  if (key) localStorage.setItem(KEY, key.trim()); else localStorage.removeItem(KEY);
}

/** Headers every request carries: Authorization: Bearer <key> once a key is kept. */
export function authHeaders() {
  const key = apiKey();
  return key ? { Authorization: `Bearer ${key}` } : {};
}

/** fetch() with the page's headers; a 401 also tells the page (event 'denoise:unauthorized') to ask for a key. */
export async function api(path, options = {}) {
  const response = await fetch(path, { ...options, headers: { ...authHeaders(), ...(options.headers || {}) } });
  if (response.status === 401) window.dispatchEvent(new CustomEvent('denoise:unauthorized'));
  return response;
}

const OBJECT_URLS = 200;
const objectUrls = new Map();  // API path → object URL, oldest first

/**
 * An object URL for an image the API serves, since an <img> or a download link cannot send the key: fetched once
 * per path, the newest 200 kept (older ones are revoked).
 */
export async function imageUrl(path) {
  const known = objectUrls.get(path);
  if (known) return known;
  const response = await api(path);
  if (!response.ok) throw Object.assign(new Error(`HTTP ${response.status}`), { status: response.status });
  const url = URL.createObjectURL(await response.blob());
  objectUrls.set(path, url);
  if (objectUrls.size > OBJECT_URLS) {
    const [oldest, stale] = objectUrls.entries().next().value;
    objectUrls.delete(oldest);
    URL.revokeObjectURL(stale);
  }
  return url;
}

/** The JSON body of a response, or an error carrying the API's error body (status, error, field, message). */
export async function json(response) {
  const text = await response.text();
  let body = null;
  try { body = text ? JSON.parse(text) : null; } catch { body = null; }
  if (!response.ok) {
    const error = new Error((body && body.message) || `HTTP ${response.status}`);
    error.status = response.status;
    error.body = body || {};
    error.retryAfter = Number(response.headers.get('Retry-After')) || null;
    throw error;
  }
  return body;
}

/**
 * Follows a job's Server-Sent Events with fetch (so headers can be sent), resuming with Last-Event-ID after a
 * dropped connection until the terminal event arrives. Calls onEvent(type, data) for each event and
 * onConnection(state, attempt) with 'open', 'lost' or 'retrying'.
 */
export async function followEvents(jobId, { onEvent, onConnection, signal }) {
  let lastId = null;
  let attempt = 0;
  const terminal = new Set(['succeeded', 'failed', 'cancelled']);
  while (!signal.aborted) {
    let ended = false;
    try {
      const headers = { Accept: 'text/event-stream' };
      if (lastId !== null) headers['Last-Event-ID'] = lastId;
      const response = await api(`/v1/jobs/${jobId}/events`, { headers, signal, cache: 'no-store' });
      if (response.status === 404) return;
      if (!response.ok) throw Object.assign(new Error(`HTTP ${response.status}`), { retryAfter: Number(response.headers.get('Retry-After')) });
      onConnection('open', attempt);
      attempt = 0;
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value.replace(/\r\n?/g, '\n');
        let cut;
        while ((cut = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, cut);
          buffer = buffer.slice(cut + 2);
          const event = parseBlock(block);
          if (!event) continue;
          if (event.id !== null) lastId = event.id;
          onEvent(event.type, event.data);
          if (terminal.has(event.type)) ended = true;
        }
        if (ended) { reader.cancel().catch(() => {}); return; }
      }
    } catch (e) {
      if (signal.aborted) return;
      if (e.retryAfter) await sleep(e.retryAfter * 1000, signal);
    }
    if (ended || signal.aborted) return;
    attempt++;
    onConnection('lost', attempt);
    await sleep(Math.min(250 * 2 ** (attempt - 1), 4000), signal);
  }
}

function parseBlock(block) {
  let id = null, type = 'message', data = '';
  for (const line of block.split('\n')) {
    if (!line || line.startsWith(':')) continue;
    const colon = line.indexOf(':');
    const name = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (name === 'id') id = value;
    else if (name === 'event') type = value;
    else if (name === 'data') data += (data ? '\n' : '') + value;
  }
  if (!data) return null;
  try { return { id, type, data: JSON.parse(data) }; } catch { return null; }
}

function sleep(ms, signal) {
  return new Promise(resolve => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => { clearTimeout(t); resolve(); }, { once: true });
  });
}
