// The workspace's desktop, as a person opens it: noVNC's page on the
// 6080 preview, the login it asks for first, then the VNC session over
// the gateway's authenticated WebSocket, drawn on noVNC's canvas.
// Prints one JSON line of what the browser saw; t/47-desktop.t checks it.
//
// env: CHROMIUM (binary), DESKTOP_URL (vnc.html?autoconnect=1&...),
//      LOGIN_LINK, WAIT_MS (how long to wait for the connection)

const { chromium } = require('playwright-core');

(async () => {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu'],
  });
  const seen = { hops: [], console: [] };
  try {
    // wider than the remote screen: headless Chromium has no scrollbar
    // gutter, so noVNC clips its canvas to the window; in a larger window
    // the canvas is the whole remote screen
    const page = await browser.newPage({ viewport: { width: 2000, height: 1200 } });
    page.on('response', (r) => {
      if (r.request().isNavigationRequest()) seen.hops.push(`${r.status()} ${r.url()}`);
    });
    page.on('console', (m) => { if (m.type() === 'error') seen.console.push(m.text()); });
    // what did not load, for the test's diagnostics
    seen.failed = [];
    const pending = new Set();
    page.on('request', (r) => pending.add(r.url()));
    page.on('requestfinished', (r) => pending.delete(r.url()));
    page.on('requestfailed', (r) => {
      pending.delete(r.url());
      seen.failed.push(`${r.url()} ${r.failure() && r.failure().errorText}`);
    });
    page.on('response', (r) => { if (r.status() >= 400) seen.failed.push(`${r.status()} ${r.url()}`); });

    await page.goto(process.env.DESKTOP_URL);
    seen.first_stop = page.url();

    // the login link brings the browser back to the page it asked for
    await page.goto(process.env.LOGIN_LINK);
    seen.final_url = page.url();
    seen.title = await page.title();

    // noVNC marks the document once the RFB session is up, and sizes its
    // canvas to the remote screen.  Chromium drops requests in flight when
    // the machine's network changes (ERR_NETWORK_CHANGED: any sandbox made
    // or removed on this host adds or removes a veth), and noVNC does not
    // start without all its modules: then, and only then, the page is
    // loaded again, at most twice
    const wait = Number(process.env.WAIT_MS || 30000);
    seen.attempts = 0;
    let mark = 0;                   // failures of the loads before this one
    for (;;) {
      seen.attempts++;
      if (seen.attempts > 1) {
        mark = seen.failed.length;
        await page.reload();
      }
      seen.connected = await page
        .waitForFunction(() => document.documentElement.classList.contains('noVNC_connected')
                               && document.querySelector('#noVNC_container canvas')
                               && document.querySelector('#noVNC_container canvas').width > 0,
                         null, { timeout: wait })
        .then(() => true, () => false);
      const changed = seen.failed.slice(mark).some((f) => /ERR_NETWORK_CHANGED/.test(f));
      if (seen.connected || !changed || seen.attempts >= 3) break;
    }
    seen.status = await page.evaluate(() => {
      const s = document.getElementById('noVNC_status');
      return s ? s.textContent : null;
    });
    seen.canvas = await page.evaluate(() => {
      const c = document.querySelector('#noVNC_container canvas');
      return c ? { width: c.width, height: c.height } : null;
    });
    seen.classes = await page.evaluate(() => document.documentElement.className);
    seen.pending = [...pending];
  } finally {
    await browser.close();
  }
  console.log(JSON.stringify(seen));
})().catch((e) => { console.error(e); process.exit(1); });
