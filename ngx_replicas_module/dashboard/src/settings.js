// The Settings page (/settings/environments[/<name>], /settings/keys,
// /settings/members): environments (variables by name, files with their
// sizes: values are write-only, a value field is cleared once saved),
// API keys (a new key shown once with Copy, the list by prefix, Revoke)
// and members (the list, add a user, a login link shown once). What a
// role may not do is not offered; a refusal is said in the page.
// main.js routes here and passes its Link and navigate.
import { h } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import htm from 'htm';
import { api } from './api.js';
import { SECTIONS, settingsRoute, settingsPath, envNameOk, varNameOk, filePathOk, emailOk,
         offered, formatBytes, ago, usableText } from './settings-logic.js';
import './settings.css';

const html = htm.bind(h);

// a GET's state: [data, error, reload]; no path, no call
function useApi(path) {
    const [data, setData] = useState(null);
    const [error, setError] = useState(null);
    const [n, setN] = useState(0);
    useEffect(() => {
        let gone = false;
        setError(null);
        if (!path) return undefined;
        api('GET', path).then((d) => { if (!gone) setData(d); },
                              (e) => { if (!gone) { setData(null); setError(e); } });
        return () => { gone = true; };
    }, [path, n]);
    return [data, error, () => setN((x) => x + 1)];
}

function Refused({ error }) {
    if (!error) return null;
    const text = error.status === 403
        ? 'Not allowed: ' + error.message
        : error.message;
    return html`<p class="form-error" role="alert" data-test="error">${text}</p>`;
}

// a secret shown once: the text, Copy, and the warning
function ShownOnce({ label, value, note, onDone }) {
    const [copied, setCopied] = useState('');
    const copy = async (e) => {
        const input = e.target.closest('.once').querySelector('input');
        try {
            await navigator.clipboard.writeText(value);
            setCopied('Copied.');
        } catch (err) {
            input.select();
            setCopied(document.execCommand && document.execCommand('copy')
                ? 'Copied.' : 'Select the text and copy it.');
        }
    };
    return html`<div class="once" role="status" data-test="once">
        <p><strong>${label}</strong> ${note}</p>
        <p class="warning">Copy it now: it is shown only this once, and cannot be shown again.</p>
        <div class="once-row">
            <input readonly value=${value} data-test="secret" aria-label=${label}
                onFocus=${(e) => e.target.select()} />
            <button type="button" onClick=${copy} data-test="copy">Copy</button>
        </div>
        ${copied && html`<p class="hint">${copied}</p>`}
        <button type="button" onClick=${onDone} data-test="done">Done</button>
    </div>`;
}

// ---- environments ------------------------------------------------------------------

function EnvList({ can, Link, navigate }) {
    const [data, error] = useApi('/v1/environments');
    const [name, setName] = useState('');
    const [formError, setFormError] = useState(null);
    const create = async (e) => {
        e.preventDefault();
        setFormError(null);
        const n = name.trim();
        if (!envNameOk(n)) {
            setFormError({ message: 'A name is 1 to 64 lowercase letters, digits, dashes or underscores, starting with a letter or digit.' });
            return;
        }
        if (data && data.environments.some((x) => x.name === n)) {
            setFormError({ message: 'Environment ' + n + ' exists already: open it below.' });
            return;
        }
        try {
            await api('PUT', '/v1/environments/' + n, {});
            navigate(settingsPath('environments', n));
        } catch (err) {
            setFormError(err);
        }
    };
    return html`<section class="card" data-test="environments">
        <h2>Environments</h2>
        <p class="hint">What a workspace gets besides its repositories: variables and files. Values are
            write-only: they are never shown again, here or by the API.
            ${can.envWrite ? '' : ' You see the environments an admin made usable to you.'}</p>
        <${Refused} error=${error} />
        ${!data && !error && html`<p class="loading">Loading…</p>`}
        ${data && data.environments.length === 0 && html`<p class="empty">No environment yet.</p>`}
        ${data && data.environments.length > 0 && html`<ul class="rows">${data.environments.map((env) => html`
            <li key=${env.name} data-env=${env.name}>
                <${Link} href=${settingsPath('environments', env.name)} class="name">${env.name === 'global' ? 'Global' : env.name}<//>
                <span class="meta">${env.variables.length} variable${env.variables.length === 1 ? '' : 's'},
                    ${' '}${env.files.length} file${env.files.length === 1 ? '' : 's'}</span>
            </li>`)}</ul>`}
        ${can.envWrite && html`<form class="inline-form" onSubmit=${create} data-test="env-create">
            <input aria-label="New environment's name" placeholder="new environment (e.g. staging)"
                value=${name} onInput=${(e) => setName(e.target.value)} />
            <button type="submit" class="primary">Create</button>
        </form>`}
        <${Refused} error=${formError} />
    </section>`;
}

function EnvPage({ name, can, Link, navigate }) {
    const [env, error, reload] = useApi('/v1/environments/' + name);
    const [users] = useApi(can.members ? '/v1/users' : null);
    const [varName, setVarName] = useState('');
    const [value, setValue] = useState('');
    const [fileName, setFileName] = useState('');
    const [content, setContent] = useState('');
    const [status, setStatus] = useState('');
    const [actError, setActError] = useState(null);
    const usersById = {};
    for (const u of (users && users.users) || []) usersById[u.id] = u;
    const patch = async (body, done) => {
        setActError(null);
        setStatus('');
        try {
            await api('PATCH', '/v1/environments/' + name, body);
            done();
            reload();
        } catch (err) {
            setActError(err);
        }
    };
    const setVar = (e) => {
        e.preventDefault();
        const n = varName.trim();
        if (!varNameOk(n)) {
            setActError({ message: 'A variable\'s name is letters, digits and _, not starting with a digit (at most 128).' });
            return;
        }
        // the value is sent once and cleared from the page
        patch({ variables: { [n]: value } }, () => { setValue(''); setVarName(''); setStatus('Saved ' + n + '.'); });
    };
    const addFile = (e) => {
        e.preventDefault();
        const p = fileName.trim();
        if (!filePathOk(p)) {
            setActError({ message: 'A file\'s path is relative (like config/app.env), without empty, . or .. parts.' });
            return;
        }
        patch({ files: { [p]: content } }, () => { setContent(''); setFileName(''); setStatus('Saved ' + p + '.'); });
    };
    const remove = (kind, key) => {
        if (!window.confirm('Remove ' + key + ' from ' + name + '?')) return;
        patch({ [kind]: { [key]: null } }, () => setStatus('Removed ' + key + '.'));
    };
    const del = async () => {
        if (!window.confirm('Delete environment ' + name + ' with all its variables and files?')) return;
        setActError(null);
        try {
            await api('DELETE', '/v1/environments/' + name);
            navigate(settingsPath('environments'));
        } catch (err) {
            setActError(err);
        }
    };
    return html`<section class="card" data-test="environment">
        <p><${Link} href=${settingsPath('environments')}>← Environments<//></p>
        <h2>${name === 'global' ? 'Global' : name}</h2>
        <${Refused} error=${error} />
        ${!env && !error && html`<p class="loading">Loading…</p>`}
        ${env && html`
            <p class="hint" data-test="usable">${name === 'global'
                ? 'Every workspace gets Global; a named environment is merged over it.'
                : 'Usable by ' + usableText(env.usable_by, usersById) + '.'}
                ${env.updated ? ' Changed ' + new Date(env.updated * 1000).toLocaleString() + '.' : ''}</p>
            ${can.envWrite && name !== 'global' && html`<label class="usable">Who may create workspaces with it${' '}
                <select value=${env.usable_by === 'all' ? 'all' : Array.isArray(env.usable_by) && env.usable_by.length ? 'some' : 'admins'}
                    onChange=${(e) => e.target.value !== 'some' && patch({ usable_by: e.target.value === 'all' ? 'all' : [] },
                        () => setStatus('Usable by ' + (e.target.value === 'all' ? 'everyone' : 'admins only') + ' now.'))}
                    data-test="usable-by">
                    <option value="admins">admins only</option>
                    <option value="all">everyone in the organisation</option>
                    ${Array.isArray(env.usable_by) && env.usable_by.length > 0 && html`<option value="some">the users listed (set by the API)</option>`}
                </select></label>`}
            <h3>Variables</h3>
            ${env.variables.length === 0 ? html`<p class="empty">No variable.</p>` : html`<ul class="rows" data-test="variables">
                ${env.variables.map((v) => html`<li key=${v} data-var=${v}><code>${v}</code>
                    <span class="meta">value hidden</span>
                    ${can.envWrite && html`<button class="danger small" onClick=${() => remove('variables', v)}>Remove</button>`}</li>`)}</ul>`}
            ${can.envWrite && html`<form class="form" onSubmit=${setVar} data-test="var-form" autocomplete="off">
                <label>Name <input name="var-name" value=${varName} placeholder="API_TOKEN"
                    onInput=${(e) => setVarName(e.target.value)} /></label>
                <label>Value <span class="hint">(write-only: sent once, never shown again; an existing variable's value is replaced)</span>
                    <input name="var-value" type="password" autocomplete="new-password" value=${value}
                        onInput=${(e) => setValue(e.target.value)} /></label>
                <button type="submit" class="primary">Save variable</button>
            </form>`}
            <h3>Files</h3>
            ${env.files.length === 0 ? html`<p class="empty">No file.</p>` : html`<ul class="rows" data-test="files">
                ${env.files.map((f) => html`<li key=${f.path} data-file=${f.path}><code>${f.path}</code>
                    <span class="meta" data-test="size">${formatBytes(f.size)}</span>
                    ${can.envWrite && html`<button class="danger small" onClick=${() => remove('files', f.path)}>Remove</button>`}</li>`)}</ul>`}
            ${can.envWrite && html`<form class="form" onSubmit=${addFile} data-test="file-form" autocomplete="off">
                <label>Path <span class="hint">(under /workspace)</span>
                    <input name="file-path" value=${fileName} placeholder="config/app.env"
                        onInput=${(e) => setFileName(e.target.value)} /></label>
                <label>Content <span class="hint">(text, at most 64 KiB; write-only too)</span>
                    <textarea name="file-content" value=${content} onInput=${(e) => setContent(e.target.value)}></textarea></label>
                <button type="submit" class="primary">Save file</button>
            </form>`}
            ${status && html`<p class="ok" role="status" data-test="status">${status}</p>`}
            <${Refused} error=${actError} />
            ${can.envWrite && html`<p><button class="danger" onClick=${del} data-test="env-delete">Delete environment</button></p>`}
        `}
    </section>`;
}

// ---- API keys ----------------------------------------------------------------------

function Keys({ caller, can, workspaces, now }) {
    const [data, error, reload] = useApi('/v1/keys');
    const [users] = useApi(can.keyForOthers ? '/v1/users' : null);
    const [user, setUser] = useState('');
    const [ws, setWs] = useState('');
    const [made, setMade] = useState(null);
    const [actError, setActError] = useState(null);
    const [status, setStatus] = useState('');
    const create = async (e) => {
        e.preventDefault();
        setActError(null);
        setStatus('');
        const body = {};
        if (user && user !== caller.user) body.user = user;
        if (ws) body.workspace = ws;
        try {
            setMade(await api('POST', '/v1/keys', body));
            reload();
        } catch (err) {
            setActError(err);
        }
    };
    const revoke = async (k) => {
        const whose = k.current ? ' This is the key you are using: you will be signed out.'
            : k.engine ? ' It is the engine key of workspace ' + k.workspace + ': its engine loses the platform until it is woken again.' : '';
        if (!window.confirm('Revoke key ' + k.prefix + '? Programs using it stop at once, with the sessions made from it.' + whose)) return;
        setActError(null);
        try {
            await api('DELETE', '/v1/keys/' + k.prefix);
            if (made && made.prefix === k.prefix) setMade(null);
            setStatus('Key ' + k.prefix + ' revoked.');
            reload();
        } catch (err) {
            setActError(err);
        }
    };
    const mine = (workspaces || []).filter((w) => can.keyForOthers || w.owner === caller.user
        || (w.collaborators || []).includes(caller.user));
    return html`<section class="card" data-test="keys">
        <h2>API keys</h2>
        <p class="hint">${can.keyForOthers ? 'The organisation\'s keys' : 'Your keys'}, by their prefix (the key itself
            is shown once, when it is made). A key bound to a workspace reaches only that workspace's previews and events.</p>
        ${made && html`<${ShownOnce} label=${'Key ' + made.prefix} value=${made.key}
            note=${'for ' + (made.email || made.user) + (made.workspace ? ', bound to ' + made.workspace : '') + '.'}
            onDone=${() => setMade(null)} />`}
        <form class="inline-form" onSubmit=${create} data-test="key-create">
            ${can.keyForOthers && users && users.users && html`<select aria-label="For user" value=${user || caller.user}
                onChange=${(e) => setUser(e.target.value)}>
                ${users.users.filter((u) => !u.disabled).map((u) => html`<option value=${u.id}>${u.email || u.id}${u.id === caller.user ? ' (you)' : ''}</option>`)}
            </select>`}
            <select aria-label="Bound to" value=${ws} onChange=${(e) => setWs(e.target.value)}>
                <option value="">any workspace (not bound)</option>
                ${mine.map((w) => html`<option value=${w.id}>bound to ${w.name || w.id}</option>`)}
            </select>
            <button type="submit" class="primary">Create key</button>
        </form>
        ${status && html`<p class="ok" role="status">${status}</p>`}
        <${Refused} error=${actError} />
        <${Refused} error=${error} />
        ${!data && !error && html`<p class="loading">Loading…</p>`}
        ${data && data.keys.length === 0 && html`<p class="empty">No key.</p>`}
        ${data && data.keys.length > 0 && html`<ul class="rows" data-test="key-list">${data.keys.map((k) => html`
            <li key=${k.prefix} data-key=${k.prefix}>
                <code class="name">rk_${k.prefix}_…</code>
                <span class="meta">${k.email || k.user || ''}${k.workspace ? (k.engine ? ' · engine of ' : ' · bound to ') + k.workspace : ''}
                    ${' · made '}${ago(k.created, now)}${' · used '}${ago(k.last_used, now)}${k.current ? ' · this key' : ''}</span>
                <button class="danger small" onClick=${() => revoke(k)} data-test="revoke">Revoke</button>
            </li>`)}</ul>`}
    </section>`;
}

// ---- members -------------------------------------------------------------------------

function Members({ caller, can }) {
    const [data, error, reload] = useApi(can.members ? '/v1/users' : null);
    const [email, setEmail] = useState('');
    const [role, setRole] = useState('member');
    const [link, setLink] = useState(null);
    const [actError, setActError] = useState(null);
    const [status, setStatus] = useState('');
    const add = async (e) => {
        e.preventDefault();
        setActError(null);
        setStatus('');
        const m = email.trim();
        if (!emailOk(m)) {
            setActError({ message: 'Give an email address like name@example.com.' });
            return;
        }
        try {
            const u = await api('POST', '/v1/users', { email: m, role });
            setEmail('');
            setStatus('Added ' + u.email + ' (' + u.role + '). Make a login link for them below.');
            reload();
        } catch (err) {
            setActError(err);
        }
    };
    const makeLink = async (u) => {
        setActError(null);
        try {
            const r = await api('POST', '/v1/users/' + u.id + '/login-link');
            setLink({ ...r, email: u.email || u.id });
        } catch (err) {
            setActError(err);
        }
    };
    const expiry = (t) => new Date(t * 1000).toLocaleTimeString();
    return html`<section class="card" data-test="members">
        <h2>Members</h2>
        ${link && html`<${ShownOnce} label="Login link" value=${link.url}
            note=${'for ' + link.email + ': it signs them in once, until ' + expiry(link.expires_at) + ' (15 minutes). Send it to them privately.'}
            onDone=${() => setLink(null)} />`}
        ${status && html`<p class="ok" role="status" data-test="status">${status}</p>`}
        <${Refused} error=${actError} />
        ${!can.members && html`<p class="hint" data-test="members-hint">Only an admin of the organisation sees and adds its members.</p>
            <p><button onClick=${() => makeLink({ id: caller.user, email: caller.email })} data-test="my-link">Make a login link for me</button>
                <span class="hint"> (to sign in on another device)</span></p>`}
        ${can.members && html`
            <${Refused} error=${error} />
            ${!data && !error && html`<p class="loading">Loading…</p>`}
            ${data && html`<ul class="rows" data-test="user-list">${data.users.map((u) => html`
                <li key=${u.id} data-user=${u.id}>
                    <span class="name">${u.email || u.id}</span>
                    <span class="meta">${u.role}${' · '}<span data-test="user-state">${u.disabled ? 'disabled' : 'active'}</span>${u.id === caller.user ? ' · you' : ''}</span>
                    ${!u.disabled && html`<button class="small" onClick=${() => makeLink(u)} data-test="login-link">Login link</button>`}
                </li>`)}</ul>`}
            <form class="inline-form" onSubmit=${add} data-test="user-add" autocomplete="off">
                <input type="email" aria-label="Email" placeholder="new member's email" value=${email}
                    onInput=${(e) => setEmail(e.target.value)} />
                <select aria-label="Role" value=${role} onChange=${(e) => setRole(e.target.value)}>
                    <option value="member">member</option>
                    <option value="admin">admin</option>
                </select>
                <button type="submit" class="primary">Add user</button>
            </form>`}
    </section>`;
}

// ---- the page ------------------------------------------------------------------------

export function Settings({ path, caller, workspaces, now, Link, navigate }) {
    const route = settingsRoute(path);
    if (!route) {
        return html`<main><h1>Not found</h1><p>No such settings page.</p><${Link} href="/settings">Settings<//></main>`;
    }
    const c = caller || {};
    const can = offered(c.role);
    return html`<main class="settings">
        <h1>Settings</h1>
        <nav class="tabs">${SECTIONS.map(([s, label]) => html`<${Link} href=${settingsPath(s)}
            class=${s === route.section ? 'on' : ''} data-section=${s}>${label}<//>`)}</nav>
        ${route.section === 'environments' && !route.env && html`<${EnvList} can=${can} Link=${Link} navigate=${navigate} />`}
        ${route.section === 'environments' && route.env && html`<${EnvPage} key=${route.env} name=${route.env} can=${can} Link=${Link} navigate=${navigate} />`}
        ${route.section === 'keys' && html`<${Keys} caller=${c} can=${can} workspaces=${workspaces} now=${now} />`}
        ${route.section === 'members' && html`<${Members} caller=${c} can=${can} />`}
    </main>`;
}
