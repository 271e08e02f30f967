// File paths in the agent's answers open the Files tab: which of the
// words of the chat's answers that look like paths (paths.js) exist in
// the workspace's repositories. Each folder they name is listed once
// (GET /v1/workspaces/{id}/files?repo=&path=, the Files tab's own call),
// again after each finished turn (the agent may have made new files).
// Asked only while the workspace is awake: the listing is the engine's,
// and asking a sleeping one would wake it. ChatTab provides the answer
// as FileLinks; markdown.js turns the paths it resolves into links.
import { createContext } from 'preact';
import { useEffect, useMemo, useState } from 'preact/hooks';
import { api } from './api.js';
import { pathCandidates, parentDir, resolvePath, filesHref } from './paths.js';
import { turnText } from './logic.js';

// null: no links; else (path) -> the Files tab's URL, or null
export const FileLinks = createContext(null);

const LISTED_MAX = 64;         // folders listed for one chat page

export function useFileLinks(ws, chat) {
    const awake = ws.state === 'awake';
    const [repos, setRepos] = useState(null);
    const [listed, setListed] = useState(() => new Map());   // repo\0dir -> Set | null (asked)
    const texts = chat.entries.map((e) => turnText(e.turn)).filter(Boolean);
    const done = chat.entries.filter((e) => e.turn && /^(completed|failed|interrupted)$/.test(e.turn.state)).length;
    const candidates = pathCandidates(texts.join('\n'));
    // the repositories' names, once some word looks like a path
    const named = candidates.length > 0;
    useEffect(() => { setRepos(null); }, [ws.id, awake]);
    useEffect(() => {
        if (!awake || !named || repos) return undefined;
        let live = true;
        api('GET', '/v1/workspaces/' + ws.id + '/git')
            .then((r) => { if (live) setRepos((r.repositories || []).map((x) => x.name).filter(Boolean)); },
                  () => { if (live) setRepos([]); });
        return () => { live = false; };
    }, [ws.id, awake, named, repos]);
    useEffect(() => { setListed(new Map()); }, [ws.id, done]);
    // the folders to know: each candidate's, in each repository (and
    // without a leading repository name)
    const wanted = [];
    if (repos) {
        const seen = new Set();
        for (const path of candidates) {
            for (const repo of repos) {
                const forms = [path];
                if (path.startsWith(repo + '/')) forms.push(path.slice(repo.length + 1));
                for (const f of forms) {
                    const k = repo + '\0' + parentDir(f);
                    if (!seen.has(k)) { seen.add(k); wanted.push(k); }
                }
            }
        }
    }
    const ask = wanted.filter((k) => !listed.has(k)).slice(0, Math.max(0, LISTED_MAX - listed.size));
    useEffect(() => {
        if (!awake || ask.length === 0) return;
        setListed((m) => { const n = new Map(m); for (const k of ask) if (!n.has(k)) n.set(k, null); return n; });
        for (const k of ask) {
            const [repo, dir] = k.split('\0');
            api('GET', '/v1/workspaces/' + ws.id + '/files?repo=' + encodeURIComponent(repo)
                + (dir ? '&path=' + encodeURIComponent(dir) : ''))
                .then((r) => (r.entries || []).filter((en) => en.type === 'file' || en.type === 'link')
                    .map((en) => (dir ? dir + '/' + en.name : en.name)), () => [])
                .then((paths) => setListed((m) => (m.has(k) ? new Map(m).set(k, new Set(paths)) : m)));
        }
    }, [ws.id, awake, ask.join('\n')]);
    return useMemo(() => {
        if (!repos || repos.length === 0) return null;
        const byRepo = new Map(repos.map((r) => [r, new Set()]));
        for (const [k, paths] of listed) {
            if (!paths) continue;
            const set = byRepo.get(k.split('\0')[0]);
            if (set) for (const p of paths) set.add(p);
        }
        return (path) => {
            const found = resolvePath(path, byRepo);
            return found ? filesHref(ws.id, found.repo, found.path) : null;
        };
    }, [ws.id, repos, listed]);
}
