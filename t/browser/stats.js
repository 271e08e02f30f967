// The Stats page as a person sees it (t/65-stats.t): the login link, the
// header's Stats link, the headline share, the people prompting, the
// agents working, the days' bars; a workspace started meanwhile (the org
// event stream) shown without a reload; another range from its button, in
// the URL; a phone-sized window without sideways scrolling; an API error
// said in the page. Prints one JSON line of what it saw.
//
// env: CHROMIUM, LOGIN_LINK, MAIN (http://domain:port), REPO (a
//      repository to start a workspace from), SHOTS (folder for PNGs)

const { chromium } = require('playwright-core');
const path = require('path');

(async () => {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu'],
  });
  const seen = { console: [], csp: [] };
  let failing = false;     // the error step's own 503 is no error of the page
  const shots = process.env.SHOTS;
  let page;
  const shot = async (name) => {
    if (shots) await page.screenshot({ path: path.join(shots, name + '.png'), fullPage: true });
  };
  const text = async (sel) => (await page.innerText(sel)).replace(/\s+/g, ' ').trim();
  const today = new Date().toISOString().slice(0, 10);
  const started = async () => text(`[data-test=days-started] [data-day="${today}"] .bar-value`);
  try {
    const context = await browser.newContext({ viewport: { width: 1200, height: 800 } });
    page = await context.newPage();
    page.on('console', (m) => {
      if (m.type() === 'error' && !(failing && /status of 503/.test(m.text()))) seen.console.push(m.text());
      if (/Content Security Policy/.test(m.text())) seen.csp.push(m.text());
    });
    page.on('pageerror', (e) => seen.console.push('pageerror: ' + e.message));

    // from the list, the header's link
    await page.goto(process.env.LOGIN_LINK);
    await page.waitForSelector('[data-test=nav-stats]', { timeout: 15000 });
    await page.click('[data-test=nav-stats]');
    await page.waitForSelector('[data-test=headline]', { timeout: 15000 });
    seen.url = page.url();
    seen.share = await text('[data-test=merged-share]');
    seen.counts = await text('[data-test=merged-counts]');
    seen.prompting = await text('[data-test=prompting]');
    seen.working = await text('[data-test=working]');
    seen.spent = await text('[data-test=spent]');
    seen.days = (await page.$$('[data-test=days-started] li')).length;
    seen.started_before = await started();
    seen.bar_width = await page.$eval(`[data-test=days-started] [data-day="${today}"] .bar`,
                                      (b) => b.getBoundingClientRect().width);
    await shot('stats');

    // a workspace started meanwhile: the page follows the org event stream
    seen.created = await page.evaluate(async (repo) => {
      const r = await fetch('/v1/workspaces', { method: 'POST', credentials: 'same-origin',
        headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ repository: repo }) });
      return r.status;
    }, process.env.REPO);
    const want = String(Number(seen.started_before) + 1);
    for (let i = 0; i < 100 && (await started()) !== want; i++) await page.waitForTimeout(100);
    seen.started_after = await started();

    // another range: its own URL
    await page.click('[data-days="30"]');
    await page.waitForFunction(() => document.querySelectorAll('[data-test=days-started] li').length === 30);
    seen.url_30 = page.url();
    seen.days_30 = (await page.$$('[data-test=days-started] li')).length;

    // an error of the API (another range asked): said in the page
    failing = true;
    await page.route('**/v1/stats*', (route) => route.fulfill({ status: 503,
      contentType: 'application/json',
      body: JSON.stringify({ error: { code: 'state_unavailable', message: 'the state store is unavailable' } }) }));
    await page.click('[data-days="7"]');
    await page.waitForSelector('[data-test=stats-error]', { timeout: 10000 });
    seen.error = await text('[data-test=stats-error]');
    await shot('stats-error');
    await page.unroute('**/v1/stats*');
    failing = false;

    // a phone
    const cookies = await context.cookies();
    const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true,
                                             hasTouch: true, deviceScaleFactor: 2 });
    await phone.addCookies(cookies);
    page = await phone.newPage();
    await page.goto(process.env.MAIN + '/stats');
    await page.waitForSelector('[data-test=headline]', { timeout: 15000 });
    seen.phone_overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    seen.phone_share = await text('[data-test=merged-share]');
    await shot('stats-phone');
  } catch (e) {
    seen.error_thrown = String(e && e.stack || e);
  } finally {
    await browser.close();
  }
  console.log(JSON.stringify(seen));
})();
