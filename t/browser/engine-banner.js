// The engine health banner in Chromium (t/66-engine-banner.t): a
// workspace's page while its engine answers JSON (no banner), then as the
// engine fails in each way: a 500 (found at once when the Logs tab's call
// fails), a page in HTML (found by the periodic check), no answer (10 s),
// nothing listening (the gateway's 502), the gateway unreachable (the
// browser's request fails: network_error); Retry, and the banner gone
// once the engine answers again (by Retry, and by the next check alone).
// A sleeping workspace's page never asks. The test sets each mode: this
// script prints "mode X" and waits for "ok" on stdin. Its last line is
// one JSON object of what it saw.
//
// env: CHROMIUM, MAIN (http://domain:port), LOGIN_LINK, WS (the awake
//      workspace), SLEEPING (a sleeping one), SHOTS (folder for PNGs)

const { chromium } = require('playwright-core');
const path = require('path');
const readline = require('readline');

const input = readline.createInterface({ input: process.stdin });
const answers = [];
let waiting = null;
input.on('line', (l) => { if (waiting) { const w = waiting; waiting = null; w(l); } else answers.push(l); });
const mode = (m) => new Promise((resolve) => {
  console.log('mode ' + m);
  if (answers.length) resolve(answers.shift()); else waiting = resolve;
});

(async () => {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu'],
  });
  const seen = { console: [], banners: {} };
  const MAIN = process.env.MAIN;
  const ws = process.env.WS;
  const engineUrl = MAIN + '/v1/workspaces/' + ws + '/engine';
  let page;
  const shot = async (name) => {
    if (process.env.SHOTS) await page.screenshot({ path: path.join(process.env.SHOTS, name + '.png'), fullPage: true });
  };
  const banner = '[data-test=engine-banner]';
  const text = async (sel) => (await page.innerText(sel)).replace(/\s+/g, ' ').trim();
  // the banner for this reason (and status), within a periodic check or two
  const bannerFor = async (reason, status, timeout) => {
    const sel = `${banner}[data-reason="${reason}"]` + (status ? `[data-status="${status}"]` : '');
    await page.waitForSelector(sel, { timeout: timeout || 25000 });
    await page.waitForSelector(`${banner} [data-test=engine-retry]:not([disabled])`, { timeout: 25000 });
    return text(banner);
  };
  try {
    const context = await browser.newContext({ viewport: { width: 1100, height: 700 } });
    page = await context.newPage();
    // a failed load is what this test makes (Chromium logs each one):
    // every other error counts
    page.on('console', (m) => {
      if (m.type() === 'error' && !/Failed to load resource|net::ERR_/.test(m.text())) seen.console.push(m.text());
    });
    page.on('pageerror', (e) => seen.console.push('pageerror: ' + e.message));

    await mode('ok');
    await page.goto(process.env.LOGIN_LINK);
    await page.waitForSelector(`[data-ws="${ws}"]`, { timeout: 15000 });
    // the page asks at once
    const first = page.waitForResponse((r) => r.url() === engineUrl, { timeout: 10000 });
    await page.goto(MAIN + '/w/' + ws);
    seen.first_check = (await first).status();
    await page.waitForTimeout(500);
    seen.healthy_banner = (await page.$$(banner)).length;
    await shot('engine-healthy');

    // a 500: the Logs tab's call to the engine fails, which asks at once
    // (after the 3 s a trigger waits since the last check; the periodic
    // one is 15 s after the first)
    await mode('500');
    await page.waitForTimeout(3500);
    const asked = page.waitForRequest((r) => r.url() === engineUrl, { timeout: 5000 }).then(() => 1, () => 0);
    await page.click('[data-tab=logs]');
    seen.hooks_trigger = await asked;
    seen.banners.http_status_500 = await bannerFor('http_status', 500);
    seen.logs_error = await text('.card .form-error');
    await shot('engine-banner-http_status-500');

    // healthy again: Retry clears it
    await mode('ok');
    await page.click('[data-test=engine-retry]');
    await page.waitForSelector(banner, { state: 'detached', timeout: 25000 });
    seen.cleared_by_retry = 1;
    await page.click('[data-tab=chat]');

    // a page in HTML: the next periodic check finds it
    await mode('html');
    seen.banners.wrong_content_type = await bannerFor('wrong_content_type', 200, 25000);
    await shot('engine-banner-wrong_content_type');

    // no answer: 10 s, once
    await mode('hang');
    await page.click('[data-test=engine-retry]');
    seen.banners.timeout = await bannerFor('timeout', null, 40000);
    await shot('engine-banner-timeout');

    // nothing listens on the engine's address: the gateway's 502
    await mode('down');
    await page.click('[data-test=engine-retry]');
    seen.banners.http_status_502 = await bannerFor('http_status', 502, 40000);
    await shot('engine-banner-http_status-502');

    // the gateway itself unreachable: the browser's request fails
    await mode('ok');
    await page.route('**/v1/workspaces/*/engine', (r) => r.abort('connectionrefused'));
    await page.click('[data-test=engine-retry]');
    seen.banners.network_error = await bannerFor('network_error', null, 40000);
    await shot('engine-banner-network_error');

    // reachable again, and the engine answers: the next check clears it
    await page.unroute('**/v1/workspaces/*/engine');
    await page.waitForSelector(banner, { state: 'detached', timeout: 25000 });
    seen.cleared_by_itself = 1;
    await shot('engine-answering-again');

    // a sleeping workspace's page: its engine is never asked
    let sleepingChecks = 0;
    const sleepingUrl = MAIN + '/v1/workspaces/' + process.env.SLEEPING + '/engine';
    page.on('request', (r) => { if (r.url() === sleepingUrl) sleepingChecks++; });
    await page.goto(MAIN + '/w/' + process.env.SLEEPING);
    await page.waitForSelector('main h1');
    await page.waitForTimeout(1500);
    seen.sleeping_checks = sleepingChecks;
  } catch (e) {
    seen.error = String(e && e.stack || e);
    try { await shot('engine-banner-error'); } catch (e2) { /* no page */ }
  }
  await browser.close();
  console.log(JSON.stringify(seen));
  input.close();
})();
