// The dashboard's calls to the /v1 API, with the session cookie (same
// origin; the gateway refuses foreign-origin writes). A 401 sends the
// browser to the login page, which comes back to the same view. A failed
// call to a workspace's engine (healthcheck.js's engineTroubleOf) also
// asks the engine banner (health.js) for a check.
import { engineTroubleOf, ENGINE_TROUBLE } from './healthcheck.js';

export class ApiError extends Error {
    constructor(status, code, message) {
        super(message);
        this.status = status;
        this.code = code;
    }
}

export function loginUrl(loc) {
    return '/login?next=' + encodeURIComponent(loc.pathname + loc.search + loc.hash);
}

function noted(path, err) {
    const id = engineTroubleOf(path, err.status, err.code);
    if (id) window.dispatchEvent(new CustomEvent(ENGINE_TROUBLE, { detail: id }));
    return err;
}

// a text answer (the engine's diff); errors are still JSON
export async function apiText(method, path) {
    try { return await textOf(method, path); } catch (e) { throw noted(path, e); }
}

export async function api(method, path, body) {
    try { return await jsonOf(method, path, body); } catch (e) { throw noted(path, e); }
}

async function textOf(method, path) {
    let res;
    try {
        res = await fetch(path, { method, credentials: 'same-origin' });
    } catch (e) {
        throw new ApiError(0, 'network_error', 'The gateway did not answer (' + e.message + ').');
    }
    if (res.status === 401) {
        window.location.assign(loginUrl(window.location));
        throw new ApiError(401, 'unauthorized', 'Your session has ended.');
    }
    if (!res.ok) {
        let err = {};
        try { err = (await res.json()).error || {}; } catch (e) { /* not JSON */ }
        throw new ApiError(res.status, err.code || 'http_status', err.message || 'HTTP ' + res.status);
    }
    return res.text();
}

async function jsonOf(method, path, body) {
    let res;
    try {
        res = await fetch(path, {
            method,
            credentials: 'same-origin',
            headers: body === undefined ? {} : { 'Content-Type': 'application/json' },
            body: body === undefined ? undefined : JSON.stringify(body),
        });
    } catch (e) {
        throw new ApiError(0, 'network_error', 'The gateway did not answer (' + e.message + ').');
    }
    if (res.status === 401) {
        window.location.assign(loginUrl(window.location));
        throw new ApiError(401, 'unauthorized', 'Your session has ended.');
    }
    let json = null;
    try {
        json = await res.json();
    } catch (e) {
        throw new ApiError(res.status, 'wrong_content_type', 'The gateway answered ' + res.status + ' without JSON.');
    }
    if (!res.ok) {
        const err = (json && json.error) || {};
        throw new ApiError(res.status, err.code || 'http_status', err.message || 'HTTP ' + res.status);
    }
    return json;
}
