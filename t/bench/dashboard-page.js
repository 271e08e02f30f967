// ./auto/bench dashboard, in Debian's Chromium: the dashboard's first load
// (bytes over the wire, time to the list shown) with the workspaces in
// Redis, then the time each change takes to be in the page's text. The
// page marks, with a MutationObserver, when each name "bench-N" first
// appears; t/bench/dashboard.pl publishes the changes and compares the
// clocks (one machine: Date.now() on both sides).
// env: CHROMIUM, LOGIN_LINK, MAIN, COUNT (workspaces to wait for),
//      ENGINE_WS (a workspace whose engine t/bench/dashboard.pl drives)
// stdout: "ready {load}" once the list is shown; then, after a line on
// stdin, "seen {name: ms since the epoch}"; with ENGINE_WS then "chat
// ready" once its chat is open and, after another line, "chat {text: ms}".

const { chromium } = require('playwright-core');
const readline = require('readline');

(async () => {
  const browser = await chromium.launch({ executablePath: process.env.CHROMIUM,
                                          args: ['--no-sandbox', '--disable-gpu'] });
  try {
    const page = await (await browser.newContext({ viewport: { width: 1200, height: 800 } })).newPage();
    // the first load: the login link (its hop sets the cookie) to the
    // list shown, nothing cached; the snapshot's bytes are not counted
    // (a stream's transferSize is only known once it ends)
    const count = Number(process.env.COUNT || 1);
    const listed = (n) => page.waitForFunction((k) => document.querySelectorAll('[data-ws]').length >= k, n,
                                               { timeout: 60000, polling: 'raf' });
    let t0 = Date.now();
    await page.goto(process.env.LOGIN_LINK, { waitUntil: 'commit' });
    await listed(count);
    const shown = Date.now() - t0;
    const bytes = await page.evaluate(() => performance.getEntriesByType('resource')
      .concat(performance.getEntriesByType('navigation'))
      .reduce((a, e) => a + (e.transferSize || 0), 0));
    // a reload, the files cached
    t0 = Date.now();
    await page.goto(process.env.MAIN + '/', { waitUntil: 'commit' });
    await listed(count);
    const reshown = Date.now() - t0;
    // the list's render alone: away to /new and back, the data in memory
    const go = (to) => { history.pushState(null, '', to); window.dispatchEvent(new PopStateEvent('popstate')); };
    const renders = [];
    for (let i = 0; i < 5; i++) {
      await page.evaluate(`(${go})('/new')`);
      await page.waitForFunction(() => document.querySelectorAll('[data-ws]').length === 0);
      renders.push(await page.evaluate((n) => new Promise((done) => {
        const t = performance.now();
        history.pushState(null, '', '/');
        window.dispatchEvent(new PopStateEvent('popstate'));
        const check = () => document.querySelectorAll('[data-ws]').length >= n
          ? done(performance.now() - t) : requestAnimationFrame(check);
        check();
      }), count));
    }
    renders.sort((a, b) => a - b);
    const render = renders[2];
    await page.evaluate(() => {
      window.__seen = {};
      new MutationObserver(() => {
        for (const el of document.querySelectorAll('[data-ws] a.name')) {
          const m = /^bench-\d+$/.exec(el.textContent);
          if (m && !window.__seen[m[0]]) window.__seen[m[0]] = Date.now();
        }
      }).observe(document.body, { subtree: true, childList: true, characterData: true });
    });
    console.log('ready ' + JSON.stringify({ shown_ms: shown, reload_ms: reshown, bytes, render_ms: render }));
    const rl = readline.createInterface({ input: process.stdin });
    await new Promise((done) => rl.once('line', done));
    console.log('seen ' + JSON.stringify(await page.evaluate(() => window.__seen)));
    // the engine's leg: a workspace's chat open on ENGINE_WS, each message
    // the engine emits (message.received, "engine-N") marked when its
    // text is first in the chat
    if (process.env.ENGINE_WS) {
      await page.goto(process.env.MAIN + '/w/' + process.env.ENGINE_WS, { waitUntil: 'commit' });
      await page.waitForSelector('[data-test=messages]', { state: 'attached', timeout: 60000 });
      await page.evaluate(() => {
        window.__chat = {};
        new MutationObserver(() => {
          for (const el of document.querySelectorAll('[data-test=messages] .msg .text')) {
            const m = /^engine-\d+$/.exec(el.textContent);
            if (m && !window.__chat[m[0]]) window.__chat[m[0]] = Date.now();
          }
        }).observe(document.body, { subtree: true, childList: true, characterData: true });
      });
      // the stream is open once the engine's history (none yet) is in
      await page.waitForTimeout(1000);
      console.log('chat ready');
      await new Promise((done) => rl.once('line', done));
      console.log('chat ' + JSON.stringify(await page.evaluate(() => window.__chat)));
    }
  } finally {
    await browser.close();
  }
})().catch((e) => { console.log('error ' + e.message); process.exit(1); });
