// The engine check's pure half (health.js asks, this decides): what one
// GET /v1/workspaces/{id}/engine (the engine's /healthz through the
// gateway) says about the workspace's engine, in Replicas' reasons, and
// the words the banner shows. No DOM, no fetch: node --test runs it.

// no answer in this long is "timeout" (the gateway waits 15 s before its
// own 504, so this deadline decides); checked this often while awake
export const ENGINE_DEADLINE_MS = 10000;
export const ENGINE_CHECK_MS = 15000;
// a failed proxied call or event stream asks for a check at once, but
// not more often than this (a closed stream retries every 2 s)
export const ENGINE_TRIGGER_MS = 3000;

// the window event api.js and the chat's event stream send when a call
// to the workspace's engine failed: detail is the workspace id
export const ENGINE_TROUBLE = 'replicas-engine-trouble';

// the API's own refusals, said before the engine is asked: they say
// nothing about it (the session ended, not the caller's workspace, gone,
// asleep or waking, the rate limit, the state store away), so no verdict
const REFUSALS = new Set(['unauthorized', 'forbidden', 'not_your_workspace', 'workspace_not_found',
                          'workspace_not_awake', 'workspace_waking', 'rate_limited',
                          'state_unavailable']);

export function isJsonType(contentType) {
    return /^application\/json\s*(;|$)/i.test(String(contentType || '').trim());
}

// outcome: { timedOut: true } (aborted at the deadline), { failed: message }
// (fetch rejected), or { status, contentType, json } (json: the parsed
// body, undefined if it was not JSON). Returns
//   { state: 'ok' }
//   { state: 'down', reason: 'timeout' | 'network_error' | 'http_status'
//     | 'wrong_content_type', status?, code?, message? }
//   { state: 'unknown', status, code }   the API refused to ask
export function classifyEngine(outcome) {
    if (outcome.timedOut) return { state: 'down', reason: 'timeout' };
    if (outcome.failed !== undefined) return { state: 'down', reason: 'network_error', message: String(outcome.failed) };
    const { status, contentType, json } = outcome;
    const error = json && typeof json === 'object' && json.error && typeof json.error === 'object' ? json.error : {};
    const code = typeof error.code === 'string' ? error.code : undefined;
    if (status < 200 || status > 299) {
        if (code && REFUSALS.has(code)) return { state: 'unknown', status, code };
        const down = { state: 'down', reason: 'http_status', status };
        if (code) down.code = code;
        if (typeof error.message === 'string') down.message = error.message;
        return down;
    }
    if (!isJsonType(contentType) || json === undefined) {
        return { state: 'down', reason: 'wrong_content_type', status, contentType: String(contentType || '') };
    }
    return { state: 'ok' };
}

// "The workspace's engine is not answering (timeout)."
export function engineBannerText(v) {
    return 'The workspace\'s engine is not answering (' + v.reason + ').';
}

// the line under it: what happened, in words (the gateway's own messages
// are its; an engine's body is never shown, only its status)
export function engineDetail(v) {
    switch (v.reason) {
    case 'timeout':
        return 'No answer in ' + ENGINE_DEADLINE_MS / 1000 + ' s.';
    case 'network_error':
        return 'The gateway could not be reached (' + (v.message || 'the request failed') +
            '), so the engine could not be asked. Check the connection.';
    case 'http_status':
        if (v.code === 'engine_unreachable') {
            return 'HTTP ' + v.status + ' from the gateway: nothing listens on the engine\'s port 3737, or the connection failed.';
        }
        if (v.code === 'engine_timeout') {
            return 'HTTP ' + v.status + ' from the gateway: the engine did not answer it in time.';
        }
        if (v.code === 'workspace_invalid') {
            return 'HTTP ' + v.status + ' from the gateway: the workspace has no valid address.';
        }
        return 'The engine answered HTTP ' + v.status + '.';
    case 'wrong_content_type':
        return 'The engine answered HTTP ' + v.status + ' with ' + (v.contentType || 'no content type') +
            ', not JSON.';
    default:
        return '';
    }
}

// the workspace whose engine a failed call of the dashboard was to, or
// null: a proxied path (events, hooks, git and its actions, diff, files,
// a chat's Stop) that failed in a way that may be the engine's (no
// answer, a 5xx, not JSON). An engine's 4xx (no such file, a refused
// push) is an answer.
export function engineTroubleOf(path, status, code) {
    const m = /^\/v1\/workspaces\/([a-z0-9]+)\/(events|hooks|git|diff|files|chats)(\/|\?|$)/.exec(String(path || ''));
    if (!m) return null;
    if (code === 'network_error' || code === 'wrong_content_type' || status >= 500) {
        return REFUSALS.has(code) ? null : m[1];
    }
    return null;
}
