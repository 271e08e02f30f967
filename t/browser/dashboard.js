// The dashboard as a person uses it: the login link lands on the list,
// which shows the sample workspace; "New workspace" starts one from a
// repository (warmed while the form is filled: "Preparing…", then
// "Ready: starts instantly"), its page shows it waking up, a message sent in the Chat tab
// is answered by the agent (the answer's markdown rendered, the script
// hidden in it not run, its tool call a row); then the Previews tab and a
// phone-sized window. Multiplayer: a second user of the organisation (a
// collaborator) in a second browser sees the first one's message live,
// attributed, and each sees the other "Also here"; the second one's
// message reaches the first live, attributed to them; the answer's file
// path opens the Files tab; a user of another organisation (a third
// browser) finds nothing of it. Prints one JSON line of what it saw; t/61
// checks it.
//
// env: CHROMIUM, LOGIN_LINK, MAIN (http://domain:port), SAMPLE (id),
//      REPO (the repository to start), REPO_MISSING (one not there), MESSAGE, SHOTS (folder for PNGs),
//      WAIT_MS (for the workspace and the answer), BOB_LINK, BOB_USER,
//      BOB_MESSAGE (the second user), EVE_LINK (another organisation's)

const { chromium } = require('playwright-core');
const path = require('path');

(async () => {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu'],
  });
  const seen = { console: [], csp: [] };
  const wait = Number(process.env.WAIT_MS || 120000);
  const shots = process.env.SHOTS;
  let page, pageB, pageE;
  const shot = async (name, on) => {
    if (shots) await (on || page).screenshot({ path: path.join(shots, name + '.png'), fullPage: true });
  };
  try {
    const context = await browser.newContext({ viewport: { width: 1200, height: 800 } });
    page = await context.newPage();
    flow: {
    if (process.env.PHASE === 'down') {
      // Redis stopped (SIGSTOP) by the test: a signed-in page says so in
      // a banner with Retry, instead of a blank view; RESUME_FILE appears
      // once the test has let Redis go on
      await context.addCookies([{ name: 'replicas_session', value: process.env.SID, url: process.env.MAIN }]);
      page.on('dialog', (d) => d.accept());
      await page.goto(process.env.MAIN + '/');
      await page.waitForSelector('[data-test=banner]', { timeout: 30000 });
      seen.banner = (await page.innerText('[data-test=banner]')).replace(/\s+/g, ' ').trim();
      await shot('redis-down');
      console.log(JSON.stringify({ phase: 'banner', banner: seen.banner }));
      const fs = require('fs');
      for (let i = 0; i < 300 && !fs.existsSync(process.env.RESUME_FILE); i++) await page.waitForTimeout(100);
      await page.click('[data-test=banner] button');
      await page.waitForSelector(`[data-ws="${process.env.SAMPLE}"]`, { timeout: 30000 });
      seen.banner_gone = (await page.$('[data-test=banner]')) === null;
      // a workspace of no one's (or deleted): "not found", not a blank view
      await page.goto(process.env.MAIN + '/w/nosuchworkspace1');
      await page.waitForSelector('main h1');
      seen.not_found = await page.innerText('main');
      break flow;
    }
    // the dashboard's own messages (the Desktop tab's frame is the
    // workspace's noVNC, whose page asks for files it may not have)
    const ours = (m) => !m.location().url || m.location().url.startsWith(process.env.MAIN + '/');
    page.on('console', (m) => {
      if (m.type() === 'error' && ours(m)) seen.console.push(m.text());
      if (/Content Security Policy/.test(m.text())) seen.csp.push(m.text());
    });
    page.on('pageerror', (e) => seen.console.push('pageerror: ' + e.message));
    page.on('dialog', (d) => d.accept());

    // --- the login link lands on the dashboard's list
    await page.goto(process.env.LOGIN_LINK);
    seen.after_login = page.url();
    await page.waitForSelector(`[data-ws="${process.env.SAMPLE}"]`, { timeout: 15000 });
    seen.sample_listed = true;
    seen.who = (await page.innerText('[data-test=who]')).replace(/\s+/g, ' ').trim();
    seen.sample_text = (await page.innerText(`[data-ws="${process.env.SAMPLE}"]`)).replace(/\s+/g, ' ').trim();
    await shot('list');
    // the list's filters: the environments with their counts, and last
    // activity (the sample was just made: not idle), kept in the URL
    seen.env_options = await page.$$eval('[data-test=env-filter] option', (o) => o.map((x) => x.textContent.trim()));
    await page.selectOption('[data-test=active-filter]', 'idle');
    await page.waitForSelector('p.empty', { timeout: 5000 });
    seen.idle_url = page.url();
    seen.idle_empty = (await page.innerText('p.empty')).trim();
    await page.selectOption('[data-test=active-filter]', 'hour');
    await page.waitForSelector(`[data-ws="${process.env.SAMPLE}"]`, { timeout: 5000 });
    seen.hour_listed = true;
    await page.selectOption('[data-test=active-filter]', '');

    // --- a new workspace from the form
    await page.click('[data-test=new]');
    await page.waitForSelector('[data-test=new-form]');
    // a repository that cannot be warmed: said quietly, the submit still open
    await page.fill('input[name=repository]', process.env.REPO_MISSING);
    await page.waitForSelector('[data-test=prewarm][data-status=failed]', { timeout: 30000 });
    seen.prewarm_failed_text = (await page.innerText('[data-test=prewarm]')).trim();
    seen.prewarm_failed_submit = await page.isEnabled('[data-test=new-form] button[type=submit]');
    await shot('new-prewarm-failed');
    await page.fill('input[name=repository]', process.env.REPO);
    await page.fill('input[name=name]', 'dashboard test');
    // warm while typing: a pause after the repository, and the form says
    // it is preparing, then ready (its image built, a warm sandbox pooled)
    await page.waitForSelector('[data-test=prewarm]:not([data-status=failed])', { timeout: 15000 });
    seen.prewarm_first = await page.getAttribute('[data-test=prewarm]', 'data-status');
    seen.prewarm_first_text = (await page.innerText('[data-test=prewarm]')).trim();
    await shot('new-preparing');
    await page.waitForSelector('[data-test=prewarm][data-status=ready]', { timeout: wait });
    seen.prewarm_ready_text = (await page.innerText('[data-test=prewarm]')).trim();
    await shot('new');
    await page.click('[data-test=new-form] button[type=submit]');
    await page.waitForURL(/\/w\/[a-z0-9]+$/, { timeout: 15000 });
    seen.ws_url = page.url();
    seen.id = seen.ws_url.match(/\/w\/([a-z0-9]+)$/)[1];
    seen.first_state = (await page.innerText('[data-test=state]')).trim().split(/\s+/)[0];
    await shot('workspace-booting');
    await page.waitForFunction(() => /^awake/.test(document.querySelector('[data-test=state]').textContent.trim()),
                               null, { timeout: wait });
    seen.awake = true;

    // --- multiplayer: bob, a member of the organisation made a
    // collaborator, opens the workspace in a second browser; eve, of
    // another organisation, has her list open in a third
    seen.collaborators_status = await page.evaluate(({ id, bob }) => fetch('/v1/workspaces/' + id + '/collaborators', {
      method: 'PUT', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ collaborators: [bob] }) })
      .then((r) => r.status), { id: seen.id, bob: process.env.BOB_USER });
    const ctxB = await browser.newContext({ viewport: { width: 1200, height: 800 } });
    pageB = await ctxB.newPage();
    seen.console_bob = [];
    pageB.on('console', (m) => { if (m.type() === 'error' && ours(m)) seen.console_bob.push(m.text()); });
    pageB.on('pageerror', (e) => seen.console_bob.push('pageerror: ' + e.message));
    await pageB.goto(process.env.BOB_LINK);
    // ada is on the workspace's page: bob's list says someone is viewing it
    await pageB.waitForSelector(`[data-ws="${seen.id}"] [data-test=viewers]`, { timeout: 30000 });
    seen.bob_list_viewers = await pageB.innerText(`[data-ws="${seen.id}"] [data-test=viewers]`);
    await shot('multi-list', pageB);
    await pageB.click(`[data-ws="${seen.id}"] a.name`);
    await pageB.waitForSelector('[data-test=also-here]', { timeout: 30000 });
    seen.bob_also_here = (await pageB.innerText('[data-test=also-here]')).replace(/\s+/g, ' ').trim();
    await page.waitForSelector('[data-test=also-here]', { timeout: 30000 });
    seen.ada_also_here = (await page.innerText('[data-test=also-here]')).replace(/\s+/g, ' ').trim();
    const ctxE = await browser.newContext({ viewport: { width: 1200, height: 800 } });
    pageE = await ctxE.newPage();
    await pageE.goto(process.env.EVE_LINK);
    await pageE.waitForSelector('main.list', { timeout: 15000 });

    // --- a message, and the agent's answer streamed into the page (and
    // into bob's, live)
    await page.fill('textarea[aria-label=Message]', process.env.MESSAGE);
    await page.click('.composer button[type=submit]');
    await page.waitForSelector('.turn-completed .md', { timeout: wait });
    {
      const entry = async (p, text) => p.waitForFunction((t) => [...document.querySelectorAll('.messages > li.entry')]
        .some((li) => (li.querySelector('.msg .text') || {}).textContent === t && li.querySelector('.turn-completed .md')),
        text, { timeout: wait });
      await entry(pageB, process.env.MESSAGE);
      seen.bob_saw = await pageB.evaluate((t) => {
        const li = [...document.querySelectorAll('.messages > li.entry')]
          .find((e) => (e.querySelector('.msg .text') || {}).textContent === t);
        return { author: li.querySelector('.author').textContent, answer: li.querySelector('.turn-completed .md strong').textContent };
      }, process.env.MESSAGE);
      // the file the agent names is a link to the Files tab, on that file
      await page.waitForSelector('.turn-completed .md a.file-link[data-path="notes.md"]', { timeout: 30000 });
      seen.file_link = await page.getAttribute('.turn-completed .md a.file-link[data-path="notes.md"]', 'href');
      await pageB.waitForSelector('.turn-completed .md a.file-link[data-path="notes.md"]', { timeout: 30000 });
      await pageB.click('.turn-completed .md a.file-link[data-path="notes.md"]');
      await pageB.waitForSelector('[data-test=file-view]', { timeout: 15000 });
      seen.link_opened = { url: pageB.url(), text: await pageB.innerText('[data-test=file-view] pre'),
                           tab: await pageB.innerText('.tabs a.on') };
      await pageB.click('[data-tab=chat]');
      await pageB.waitForSelector('.turn-completed .md', { timeout: 15000 });
    }
    seen.answer_html = await page.innerHTML('.turn-completed .md');
    seen.strong = await page.textContent('.turn-completed .md strong').catch(() => null);
    seen.tools = await page.$$eval('[data-test=tool] .tool-name', (els) => els.map((e) => e.textContent));
    seen.author = await page.textContent('.entry .author');
    seen.message_text = await page.textContent('.entry .msg .text');
    seen.pwned = await page.evaluate(() => window.__pwned || null);
    seen.scripts_in_chat = await page.$$eval('.messages script', (els) => els.length);
    seen.js_links = await page.$$eval('.messages a[href^="javascript"], .messages a[href^="JAVASCRIPT"]', (els) => els.length);
    seen.handlers_in_chat = await page.$$eval('.messages [onerror], .messages [onclick]', (els) => els.length);
    await shot('chat');
    // what the API says of it, asked with the page's own session cookie
    seen.api_ws = await page.evaluate((id) => fetch('/v1/workspaces/' + id).then((r) => r.json()), seen.id);

    // --- a long turn, a message queued behind it with its position, Stop
    await page.fill('textarea[aria-label=Message]', process.env.SLOW_MESSAGE);
    await page.click('.composer button[type=submit]');
    await page.waitForSelector('.turn-running', { timeout: wait });
    await page.waitForSelector('[data-test=stop]');
    await page.fill('textarea[aria-label=Message]', process.env.NEXT_MESSAGE);
    await page.click('.composer button[type=submit]');
    await page.waitForFunction(() => [...document.querySelectorAll('.turn-queued .turn-meta')]
      .some((e) => /queued \(position 1\)/.test(e.textContent)), null, { timeout: 30000 });
    seen.queued_shown = true;
    await shot('chat-queued');
    await page.click('[data-test=stop]');
    await page.waitForSelector('.turn-interrupted', { timeout: 30000 });
    seen.interrupted = true;
    // the queue goes on: the next message's turn runs and completes
    await page.waitForFunction(() => document.querySelectorAll('.turn-completed').length >= 2,
                               null, { timeout: wait });
    seen.next_answer = await page.evaluate((text) => {
      const e = [...document.querySelectorAll('.messages > li.entry')]
        .find((li) => (li.querySelector('.msg .text') || {}).textContent === text);
      const md = e && e.querySelector('.turn-completed .md');
      return md ? md.innerText.trim() : null;
    }, process.env.NEXT_MESSAGE);
    seen.stop_gone = (await page.$('[data-test=stop]')) === null;

    // --- bob's message: ada sees it live, attributed to him (and the
    // agent's work for it is committed as him: t/61 reads the commits)
    await pageB.fill('textarea[aria-label=Message]', process.env.BOB_MESSAGE);
    await pageB.click('.composer button[type=submit]');
    await page.waitForFunction((t) => [...document.querySelectorAll('.messages > li.entry')]
      .some((li) => (li.querySelector('.msg .text') || {}).textContent === t && li.querySelector('.turn-completed .md')),
      process.env.BOB_MESSAGE, { timeout: wait });
    // the folder is listed again once the turn is over: then bob.md is a link
    await page.waitForSelector('.turn-completed .md a.file-link[data-path="bob.md"]', { timeout: 30000 }).catch(() => {});
    seen.ada_saw = await page.evaluate((t) => {
      const li = [...document.querySelectorAll('.messages > li.entry')]
        .find((e) => (e.querySelector('.msg .text') || {}).textContent === t);
      return { author: li.querySelector('.author').textContent, answer: li.querySelector('.turn-completed .md').innerText.trim(),
               link: (li.querySelector('.turn-completed .md a.file-link') || {}).textContent || null };
    }, process.env.BOB_MESSAGE);
    await pageB.waitForFunction(() => document.querySelectorAll('.turn-completed').length >= 3, null, { timeout: wait });
    // the two side by side
    if (shots) {
      await shot('multi-ada');
      await shot('multi-bob', pageB);
      const img = (f) => 'data:image/png;base64,' + require('fs').readFileSync(path.join(shots, f + '.png')).toString('base64');
      const both = await ctxE.newPage();
      await both.setViewportSize({ width: 1600, height: 700 });
      await both.setContent(`<body style="margin:0;display:flex;gap:8px;background:#888">
        <img style="width:796px;height:auto;align-self:flex-start" src="${img('multi-ada')}">
        <img style="width:796px;height:auto;align-self:flex-start" src="${img('multi-bob')}"></body>`);
      await shot('multiplayer', both);
      await both.close();
    }
    // eve, of another organisation, saw none of it, and finds nothing
    seen.eve_listed = (await pageE.$(`[data-ws="${seen.id}"]`)) !== null;
    seen.eve_list_text = await pageE.innerText('main');
    seen.eve_api = await pageE.evaluate(async (id) => {
      const st = async (method, p) => (await fetch('/v1/workspaces/' + id + p, { method,
        headers: method === 'POST' ? { 'Content-Type': 'application/json' } : {}, body: method === 'POST' ? '{}' : undefined })).status;
      return { get: await st('GET', ''), events: await st('GET', '/events'), presence: await st('POST', '/presence'),
               history: await st('GET', '/history'), messages: (await fetch('/v1/workspaces/' + id + '/messages', {
                 method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{"text":"hi from eve"}' })).status };
    }, seen.id);
    await pageE.goto(process.env.MAIN + '/w/' + seen.id);
    await pageE.waitForSelector('main h1');
    seen.eve_page = (await pageE.innerText('main')).replace(/\s+/g, ' ').trim();
    await shot('multi-eve', pageE);
    await ctxE.close();
    // bob leaves: ada is alone again
    await pageB.click('a.brand');
    await pageB.waitForSelector(`[data-ws="${seen.id}"]`);
    await page.waitForSelector('[data-test=also-here]', { state: 'detached', timeout: 30000 });
    seen.bob_left = true;
    await ctxB.close();

    // --- the Diff tab: the agent's change, drawn by diff2html
    await page.click('[data-tab=diff]');
    await page.waitForSelector('[data-test=diff-stats]', { timeout: 30000 });
    seen.diff_stats = (await page.innerText('[data-test=diff-stats]')).replace(/\s+/g, ' ').trim();
    // diff2html draws in an effect after the counts are shown
    await page.waitForSelector('.d2h-file-wrapper .d2h-file-name', { timeout: 10000 }).catch(() => {});
    seen.diff_files = await page.$$eval('.d2h-file-wrapper .d2h-file-name', (els) => els.map((e) => e.textContent.trim()));
    seen.diff_added = await page.$$eval('.d2h-ins .d2h-code-line-ctn', (els) => els.map((e) => e.textContent));
    await shot('diff');

    // --- the Desktop tab: the workspace's noVNC in a frame, no second login
    await page.click('[data-tab=desktop]');
    await page.waitForSelector('[data-test=desktop-frame]');
    // (as t/browser/desktop.js: Chromium drops requests in flight when the
    // host's network changes, which any sandbox made on it does, and
    // noVNC does not start without all its modules: the tab's Reload is
    // pressed then, at most twice)
    const deadline = Date.now() + 90000;
    let frame = null;
    let reloadAt = Date.now() + 25000;
    seen.desktop_reloads = 0;
    while (Date.now() < deadline && !seen.desktop_connected) {
      if (Date.now() > reloadAt && seen.desktop_reloads < 2) {
        await page.click('[data-test=desktop-reload]');
        seen.desktop_reloads++;
        reloadAt = Date.now() + 25000;
      }
      frame = page.frames().find((f) => /^http:\/\/6080-/.test(f.url()));
      if (frame) {
        seen.desktop_connected = await frame.evaluate(() => {
          const c = document.querySelector('#noVNC_container canvas');
          return document.documentElement.classList.contains('noVNC_connected') && !!c && c.width > 0;
        }).catch(() => false);
      }
      if (!seen.desktop_connected) await page.waitForTimeout(500);
    }
    seen.desktop_frame_url = frame ? frame.url() : null;
    await page.waitForTimeout(1000);
    // what noVNC drew: the share of a grid of its canvas's pixels that is
    // not black (the remote screen, not an empty one)
    if (frame && seen.desktop_connected) {
      seen.desktop_lit = await frame.evaluate(() => {
        const c = document.querySelector('#noVNC_container canvas');
        const g = c.getContext('2d');
        const d = g.getImageData(0, 0, c.width, c.height).data;
        let lit = 0, card = 0, n = 0;
        for (let y = 0; y < c.height; y += Math.max(1, c.height >> 5)) {
          for (let x = 0; x < c.width; x += Math.max(1, c.width >> 5)) {
            const i = (y * c.width + x) * 4;
            n++;
            if (d[i] + d[i + 1] + d[i + 2] > 48) lit++;
            // the desktop's card (engine/re_desktop.c: #1e293b)
            if (Math.abs(d[i] - 0x1e) < 8 && Math.abs(d[i + 1] - 0x29) < 8
                && Math.abs(d[i + 2] - 0x3b) < 8) card++;
          }
        }
        return n ? { lit: lit / n, card: card / n } : { lit: 0, card: 0 };
      }).catch((e) => ({ lit: 'error: ' + e.message, card: 0 }));
    }
    await shot('desktop');

    // --- the Previews tab: a preview added (by the page's own session,
    // as a program would by key) appears with its URL
    await page.evaluate((id) => fetch('/v1/workspaces/' + id + '/previews', {
      method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{"port":3000}' }), seen.id);
    await page.click('[data-tab=previews]');
    await page.waitForURL(/\/previews$/);
    await page.waitForSelector('.previews [data-port="3000"]', { timeout: 15000 });
    seen.previews_text = (await page.textContent('.previews')).replace(/\s+/g, ' ').trim();
    // a share link, opened in a fresh browser (no login), then revoked
    const row = '.previews li[data-port="3000"]';
    await page.click(`${row} [data-test=share]`);
    await page.waitForSelector(`${row} [data-test=share-url]`, { timeout: 15000 });
    seen.share_url = await page.inputValue(`${row} [data-test=share-url]`);
    await page.waitForSelector(`${row} [data-test=revoke]`, { timeout: 15000 });
    const fresh = async () => {
      const ctx = await browser.newContext();
      const p2 = await ctx.newPage();
      const r = await p2.goto(seen.share_url).catch((e) => null);
      const out = { url: p2.url(), status: r ? r.status() : null };
      await ctx.close();
      return out;
    };
    seen.share_open = await fresh();
    await page.click(`${row} [data-test=visibility]`);
    await page.waitForFunction((sel) => /public/.test(document.querySelector(sel + ' .vis').textContent),
                               row, { timeout: 15000 });
    seen.made_public = true;
    await shot('previews-shared');
    await page.click(`${row} [data-test=revoke]`);
    await page.waitForFunction((sel) => !document.querySelector(sel + ' [data-test=revoke]'), row, { timeout: 15000 });
    await page.click(`${row} [data-test=visibility]`);
    await page.waitForFunction((sel) => /authenticated/.test(document.querySelector(sel + ' .vis').textContent),
                               row, { timeout: 15000 });
    seen.share_after_revoke = await fresh();
    await shot('previews');

    // --- the Files tab: the tree, a file opened (its URL keeps it)
    await page.click('[data-tab=files]');
    await page.waitForSelector('[data-test=tree] a[data-path="notes.md"]', { timeout: 15000 });
    seen.tree = await page.$$eval('[data-test=tree] a', (els) => els.map((e) => e.textContent));
    await page.click('[data-test=tree] a[data-path="notes.md"]');
    await page.waitForSelector('[data-test=file-view]', { timeout: 15000 });
    seen.file_text = await page.innerText('[data-test=file-view] pre');
    seen.file_url = page.url();
    await shot('files');

    // --- the Git tab: branch, ahead, and an action's answer in the page
    await page.click('[data-tab=git]');
    await page.waitForSelector('[data-test=git-state]', { timeout: 15000 });
    seen.git_state = (await page.innerText('[data-test=git-state]')).replace(/\s+/g, ' ').trim();
    const before = seen.console.length;
    await page.click('[data-test=push]');
    await page.waitForSelector('[data-test=git-said]', { timeout: 30000 });
    seen.git_said = await page.innerText('[data-test=git-said]');
    // the fixture's remote refuses the push (502 push_failed): Chromium
    // logs the answer's status, which is the point of this step
    seen.console = seen.console.filter((m, i) => i < before || !/status of 502/.test(m));
    await shot('git');

    // --- the Logs tab: the hooks' state and logs from the engine
    await page.click('[data-tab=logs]');
    await page.waitForSelector('[data-hook=Start] h3', { timeout: 15000 });
    seen.logs_start = await page.innerText('[data-hook=Start] h3');
    await shot('logs');
    await page.click('[data-tab=previews]');
    await page.waitForSelector('.previews');

    // a reload keeps the view (every view has its URL)
    await page.reload();
    await page.waitForSelector('.previews', { timeout: 15000 });
    seen.reload_kept = page.url();

    // --- a phone
    await page.setViewportSize({ width: 390, height: 844 });
    await page.click('[data-tab=chat]');
    await page.waitForSelector('.turn-completed .md', { timeout: wait });
    seen.phone_overflow = await page.evaluate(() => document.documentElement.scrollWidth > window.innerWidth + 1);
    await shot('chat-phone');
    await page.click('a.brand');
    await page.waitForSelector(`[data-ws="${seen.id}"]`);
    await shot('list-phone');

    // --- sleep, wake and delete from the workspace's page, seen live
    // (the event stream is cut when the engine stops: errors after this
    // point are not the page's)
    seen.console_before_sleep = seen.console.slice();
    await page.setViewportSize({ width: 1200, height: 800 });
    await page.click(`[data-ws="${seen.id}"] a.name`);
    const stateIs = (s) => page.waitForFunction((want) => {
      const el = document.querySelector('[data-test=state]');
      return el && el.textContent.trim().startsWith(want);
    }, s, { timeout: wait });
    await page.click('[data-test=sleep]');
    await stateIs('sleeping');
    seen.slept = true;
    seen.sleeping_info = await page.innerText('.chat .info').catch(() => null);
    await shot('sleeping');
    // a page opened now reads the chat saved at the sleep, and the
    // workspace sleeps on
    {
      const p3 = await context.newPage();
      await p3.goto(process.env.MAIN + '/w/' + seen.id);
      await p3.waitForSelector('.turn-completed .md', { timeout: 30000 });
      seen.history_asleep = (await p3.$$eval('.turn-completed .md', (els) => els.map((e) => e.textContent.trim()))).pop();
      seen.history_asleep_state = await p3.innerText('[data-test=state]');
      await p3.waitForTimeout(1500);
      await p3.goto(process.env.MAIN + '/');
      seen.branch_asleep = await p3.waitForSelector(`[data-ws="${seen.id}"] [data-test=branch]`, { timeout: 10000 })
        .then((el) => el.textContent(), () => null);
      await shot('list-sleeping', p3);
      // who the turns' work was committed as (the saved history's git.committed)
      seen.commits = await p3.evaluate((id) => fetch('/v1/workspaces/' + id + '/history').then((r) => r.json())
        .then((h) => (h.events || []).filter((e) => e.type === 'git.committed')
          .map((e) => ({ author: e.payload.author, files: e.payload.files }))), seen.id);
      seen.state_after_history = (await p3.evaluate((id) =>
        fetch('/v1/workspaces/' + id).then((r) => r.json()), seen.id)).state;
      await p3.close();
    }
    await page.click('[data-test=wake]');
    await stateIs('awake');
    seen.woke = true;
    // the history is there again after the wake
    await page.waitForSelector('.turn-completed .md', { timeout: wait });
    seen.history_after_wake = true;
    await page.click('[data-test=delete]');          // the dialog is accepted
    await page.waitForURL((u) => new URL(u).pathname === '/', { timeout: 15000 });
    await page.waitForSelector(`[data-ws="${process.env.SAMPLE}"]`);
    seen.deleted_gone = (await page.$(`[data-ws="${seen.id}"]`)) === null;

    // --- sign out; a view opened without a session goes through the
    // login page, and the next login link comes back to that view
    await page.click('form.logout button');
    await page.waitForLoadState();
    seen.logged_out = /logged out/i.test(await page.innerText('body'));
    const view = process.env.MAIN + '/w/' + process.env.SAMPLE;
    await page.goto(view);
    await page.waitForURL(/\/login\?next=/, { timeout: 15000 });
    seen.login_stop = page.url();
    await shot('login');
    await page.goto(process.env.LOGIN_LINK2);
    await page.waitForSelector('.ws h1', { timeout: 15000 });
    seen.back_to = page.url();
    seen.back_title = await page.innerText('.ws h1');
    }
  } catch (e) {
    seen.error = String(e && e.stack || e);
    if (page) await shot('failure').catch(() => {});
  } finally {
    await browser.close();
  }
  console.log(JSON.stringify(seen));
})().catch((e) => { console.error(e); process.exit(1); });
