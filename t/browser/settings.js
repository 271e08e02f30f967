// The Settings page as an admin and a member use it (t/64-settings.t):
// the admin creates an API key (shown once, then only its prefix) and
// revokes it, makes an environment and sets a variable (its value not in
// the page after saving nor after a reload) and a file (its size shown),
// adds a member and makes their login link, which signs the member in
// in a fresh browser context; the member's Settings offer no admin
// action and a refusal is said in the page. Screenshots at desktop and
// phone width. Prints one JSON line of what it saw.
//
// env: CHROMIUM, MAIN (http://domain:port), ADMIN_LINK (a login link),
//      VALUE (the variable's value), SHOTS (folder for PNGs)

const { chromium } = require('playwright-core');
const path = require('path');

(async () => {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu'],
  });
  const seen = { console: [], csp: [] };
  const MAIN = process.env.MAIN;
  const VALUE = process.env.VALUE;
  let page;
  const shot = async (name, on) => {
    if (process.env.SHOTS) {
      await (on || page).screenshot({ path: path.join(process.env.SHOTS, name + '.png'), fullPage: true });
    }
  };
  const watch = (p) => {
    p.on('console', (m) => {
      if (m.type() === 'error' && !/Failed to load resource/.test(m.text())) seen.console.push(m.text());
      if (/Content Security Policy/.test(m.text())) seen.csp.push(m.text());
    });
    p.on('pageerror', (e) => seen.console.push('pageerror: ' + e.message));
    p.on('dialog', (d) => d.accept());
  };
  // the page's whole DOM (input values too), to look for secrets in
  const everything = (p) => p.evaluate(() => document.documentElement.outerHTML
    + [...document.querySelectorAll('input, textarea')].map((e) => e.value).join('\n'));
  const overflow = (p) => p.evaluate(() => document.documentElement.scrollWidth > window.innerWidth + 1);
  try {
    const context = await browser.newContext({ viewport: { width: 1200, height: 800 } });
    page = await context.newPage();
    watch(page);

    // --- the admin signs in; the header's Settings link opens the page
    await page.goto(process.env.ADMIN_LINK);
    await page.waitForSelector('[data-test=settings-link]');
    await page.click('[data-test=settings-link]');
    await page.waitForSelector('[data-test=environments]');
    seen.settings_url = page.url();

    // --- API keys: created, shown once, then only the prefix; revoked
    await page.click('[data-section=keys]');
    await page.waitForSelector('[data-test=key-create]');
    seen.keys_url = page.url();
    await page.click('[data-test=key-create] button[type=submit]');
    await page.waitForSelector('[data-test=once] [data-test=secret]');
    seen.key = await page.inputValue('[data-test=once] [data-test=secret]');
    seen.key_warning = await page.innerText('[data-test=once]');
    seen.copy_button = (await page.$('[data-test=once] [data-test=copy]')) !== null;
    await shot('settings-key-created');
    const prefix = (seen.key.match(/^rk_([a-z0-9]{8})_/) || [])[1];
    await page.waitForSelector(`[data-key="${prefix}"]`);
    await page.click('[data-test=once] [data-test=done]');
    seen.key_after_done = (await everything(page)).includes(seen.key);
    seen.key_row = await page.innerText(`[data-key="${prefix}"]`);
    await page.reload();
    await page.waitForSelector(`[data-key="${prefix}"]`);
    seen.keys_url_reloaded = page.url();
    seen.key_after_reload = (await everything(page)).includes(seen.key);
    await shot('settings-keys');
    await page.click(`[data-key="${prefix}"] [data-test=revoke]`);
    await page.waitForSelector(`[data-key="${prefix}"]`, { state: 'detached' });
    seen.revoked = true;

    // --- an environment and a variable: the value written, never shown
    await page.click('[data-section=environments]');
    await page.waitForSelector('[data-test=env-create]');
    await page.fill('[data-test=env-create] input', 'staging');
    await page.click('[data-test=env-create] button[type=submit]');
    await page.waitForSelector('[data-test=var-form]');
    seen.env_url = page.url();
    await page.fill('input[name=var-name]', 'DB_PASSWORD');
    await page.fill('input[name=var-value]', VALUE);
    seen.value_field_type = await page.getAttribute('input[name=var-value]', 'type');
    await page.click('[data-test=var-form] button[type=submit]');
    await page.waitForSelector('[data-var=DB_PASSWORD]');
    seen.status = await page.innerText('[data-test=status]');
    seen.value_field_after = await page.inputValue('input[name=var-value]');
    seen.value_after_save = (await everything(page)).includes(VALUE);
    await page.fill('input[name=file-path]', 'config/app.env');
    await page.fill('textarea[name=file-content]', 'PORT=3000\n');
    await page.click('[data-test=file-form] button[type=submit]');
    await page.waitForSelector('[data-file="config/app.env"] [data-test=size]');
    seen.file_size = await page.innerText('[data-file="config/app.env"] [data-test=size]');
    // made usable by everyone: a member may then use it
    await page.selectOption('[data-test=usable-by]', 'all');
    await page.waitForFunction(() => /everyone in the organisation/.test(document.querySelector('[data-test=usable]').innerText));
    seen.usable = await page.innerText('[data-test=usable]');
    await page.reload();
    await page.waitForSelector('[data-var=DB_PASSWORD]');
    seen.env_url_reloaded = page.url();
    seen.value_after_reload = (await everything(page)).includes(VALUE);
    seen.env_text = (await page.innerText('[data-test=environment]')).replace(/\s+/g, ' ');
    await shot('settings-environment');
    await page.setViewportSize({ width: 390, height: 844 });
    seen.phone_overflow_env = await overflow(page);
    await shot('settings-environment-phone');
    await page.setViewportSize({ width: 1200, height: 800 });

    // --- a member added, and their login link
    await page.click('[data-section=members]');
    await page.waitForSelector('[data-test=user-add]');
    seen.members_url = page.url();
    await page.fill('[data-test=user-add] input[type=email]', 'grace@example.com');
    await page.click('[data-test=user-add] button[type=submit]');
    const row = page.locator('[data-test=user-list] li', { hasText: 'grace@example.com' });
    await row.waitFor();
    seen.new_row = (await row.innerText()).replace(/\s+/g, ' ');
    // the same email again: said in the page
    await page.fill('[data-test=user-add] input[type=email]', 'grace@example.com');
    await page.click('[data-test=user-add] button[type=submit]');
    await page.waitForSelector('[data-test=members] [data-test=error]');
    seen.duplicate = await page.innerText('[data-test=members] [data-test=error]');
    await row.locator('[data-test=login-link]').click();
    await page.waitForSelector('[data-test=once] [data-test=secret]');
    seen.link = await page.inputValue('[data-test=once] [data-test=secret]');
    await shot('settings-members');
    await page.setViewportSize({ width: 390, height: 844 });
    seen.phone_overflow_members = await overflow(page);
    await shot('settings-members-phone');

    // --- the link signs the member in, in a fresh browser
    const fresh = await browser.newContext({ viewport: { width: 390, height: 844 } });
    const mp = await fresh.newPage();
    watch(mp);
    await mp.goto(seen.link);
    await mp.waitForSelector('[data-test=who]');
    await mp.waitForFunction(() => document.querySelector('[data-test=who]').innerText.trim() !== '');
    seen.member_landed = mp.url();
    seen.member_who = (await mp.innerText('[data-test=who]')).replace(/\s+/g, ' ').trim();
    // the member's Settings: nothing of an admin's offered
    await mp.goto(MAIN + '/settings');
    await mp.waitForSelector('[data-test=environments]');
    await mp.waitForSelector('[data-test=environments] .empty, [data-test=environments] .rows');
    seen.member_env_create = (await mp.$('[data-test=env-create]')) !== null;
    seen.member_envs = await mp.$$eval('[data-env]', (l) => l.map((e) => e.getAttribute('data-env')));
    await mp.goto(MAIN + '/settings/environments/staging');
    await mp.waitForSelector('[data-var=DB_PASSWORD]');
    seen.member_var_form = (await mp.$('[data-test=var-form]')) !== null;
    seen.member_remove_buttons = (await mp.$$('[data-test=environment] button')).length;
    seen.member_env_value = (await everything(mp)).includes(VALUE);
    await mp.goto(MAIN + '/settings/environments/' + process.env.HIDDEN_ENV);
    await mp.waitForSelector('[data-test=environment] [data-test=error]');
    seen.member_env_refused = await mp.innerText('[data-test=environment] [data-test=error]');
    await mp.goto(MAIN + '/settings/members');
    await mp.waitForSelector('[data-test=members-hint]');
    seen.member_user_add = (await mp.$('[data-test=user-add]')) !== null;
    seen.member_link_buttons = (await mp.$$('[data-test=login-link]')).length;
    seen.member_my_link = (await mp.$('[data-test=my-link]')) !== null;
    await shot('settings-members-member', mp);
    await mp.goto(MAIN + '/settings/keys');
    await mp.waitForSelector('[data-test=key-create]');
    await mp.waitForSelector('[data-test=key-list], [data-test=keys] .empty');
    seen.member_user_select = (await mp.$('select[aria-label="For user"]')) !== null;
    seen.phone_overflow_member_keys = await overflow(mp);
    await shot('settings-keys-member', mp);
    await fresh.close();
  } catch (e) {
    seen.error = String(e && e.stack || e);
    try { await shot('settings-failure'); } catch (e2) { /* gone */ }
  }
  await browser.close();
  console.log(JSON.stringify(seen));
})();
