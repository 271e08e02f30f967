// A person's first visit, in a real browser: open an authenticated
// preview, get sent to the login page, follow the login link, and land
// back on the preview through the ticket and the preview cookie.
// Prints one JSON line of what the browser saw; t/32-browser.t checks it.
//
// env: CHROMIUM (binary), PREVIEW_URL, LOGIN_LINK

const { chromium } = require('playwright-core');

(async () => {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu'],
  });
  const seen = {};
  try {
    const page = await browser.newPage();
    const hops = [];
    page.on('response', (r) => {
      if (r.request().isNavigationRequest()) hops.push(`${r.status()} ${r.url()}`);
    });

    await page.goto(process.env.PREVIEW_URL);
    seen.first_stop = page.url();
    seen.login_form = await page.locator('form[action="/login"]').count();

    await page.goto(process.env.LOGIN_LINK);
    seen.final_url = page.url();
    seen.body = await page.locator('body').innerText();

    const cookies = await page.context().cookies();
    seen.cookies = cookies.map((c) => ({
      name: c.name, domain: c.domain, httpOnly: c.httpOnly, sameSite: c.sameSite,
    }));

    // the page's own script cannot read the preview cookie (HttpOnly)
    seen.document_cookie = await page.evaluate(() => document.cookie);

    // a reload goes straight to the preview now
    const again = await page.goto(process.env.PREVIEW_URL);
    seen.reload_status = again.status();
    seen.reload_url = page.url();
    seen.hops = hops;
  } finally {
    await browser.close();
  }
  console.log(JSON.stringify(seen));
})().catch((e) => { console.error(e); process.exit(1); });
