// The web console in headless Chromium, against a real engram server
// started by crates/engram/tests/console.rs, which passes:
//   ENGRAM_CONSOLE_SCENARIO   `full` (default) or `first-run`, below
//   ENGRAM_CONSOLE_URL        the server's base URL
//   ENGRAM_CONSOLE_RW_KEY     a read-write tenant key (its tenant holds the
//                             memories and the conversation the test made)
//   ENGRAM_CONSOLE_RO_KEY     a read-only key of the same tenant
//   ENGRAM_CONSOLE_ADMIN_KEY  the admin key
//   ENGRAM_CONSOLE_TENANT     the tenant's name
//   ENGRAM_CONSOLE_MEMORY     the content of the memory to find and delete
//   ENGRAM_CONSOLE_SHOTS      where the screenshots go
//   ENGRAM_TEST_CHROMIUM      the browser (default /usr/bin/chromium)
//   ENGRAM_TEST_CONSOLE_MODULES  node_modules holding playwright-core
// Any browser console error, page error or CSP violation fails the run,
// except the HTTP errors a step provokes on purpose. Exits non-zero on
// the first failure, naming the step.

import { createRequire } from 'node:module';
import { mkdirSync } from 'node:fs';
import path from 'node:path';

const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set`);
  return v;
};
const require = createRequire(path.join(env('ENGRAM_TEST_CONSOLE_MODULES'), 'resolve.js'));
const { chromium } = require('playwright-core');

// `full` (every page, three keys) or `first-run` (the README's acceptance:
// the key a first run prints, the memories its curl lines added).
const SCENARIO = process.env.ENGRAM_CONSOLE_SCENARIO || 'full';
const BASE = env('ENGRAM_CONSOLE_URL');
const RW = env('ENGRAM_CONSOLE_RW_KEY');
const MEMORY = env('ENGRAM_CONSOLE_MEMORY');
const SHOTS = env('ENGRAM_CONSOLE_SHOTS');
mkdirSync(SHOTS, { recursive: true });

let step = 'start';
function check(cond, what) {
  if (!cond) throw new Error(`${what}`);
}

const browser = await chromium.launch({
  executablePath: process.env.ENGRAM_TEST_CHROMIUM || '/usr/bin/chromium',
  headless: true,
  // Root in a container has no user namespace for Chromium's sandbox.
  args: ['--no-sandbox'],
});

/** A page that records every console error, page error and CSP violation. */
async function open(viewport) {
  const context = await browser.newContext({ viewport, deviceScaleFactor: 1 });
  const page = await context.newPage();
  page.setDefaultTimeout(20000);
  page.problems = [];
  page.allowed = [];
  page.on('console', (msg) => {
    if (msg.type() !== 'error' && msg.type() !== 'warning') return;
    const text = msg.text();
    if (msg.type() === 'warning' && !/Content.Security.Policy|Refused/i.test(text)) return;
    const ok = page.allowed.some((status) => text.includes(`status of ${status}`));
    if (!ok) page.problems.push(`[${step}] console ${msg.type()}: ${text}`);
  });
  page.on('pageerror', (e) => page.problems.push(`[${step}] page error: ${e.message}`));
  await page.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e) => {
      console.error(`CSP violation: ${e.violatedDirective} blocked ${e.blockedURI}`);
    });
  });
  return page;
}

function assertClean(page) {
  if (page.problems.length) throw new Error(`browser reported:\n${page.problems.join('\n')}`);
}

/** Runs `fn` while HTTP errors of these statuses are expected. */
async function expecting(page, statuses, fn) {
  page.allowed = statuses;
  try {
    await fn();
  } finally {
    page.allowed = [];
  }
}

async function shot(page, name) {
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
}

async function signIn(page, key) {
  await page.goto(`${BASE}/ui#/signin`);
  await page.locator('h1', { hasText: 'Sign in' }).waitFor();
  await page.fill('#key', key);
  await page.click('#signin button[type=submit]');
  await page.locator('#whoami').waitFor();
}

async function signOut(page) {
  await page.click('#signout');
  await page.locator('h1', { hasText: 'Sign in' }).waitFor();
  const stored = await page.evaluate(() => sessionStorage.length);
  check(stored === 0, 'signing out leaves nothing in session storage');
}

async function noHorizontalScroll(page, what) {
  const [scroll, width] = await page.evaluate(() => [document.documentElement.scrollWidth, window.innerWidth]);
  check(scroll <= width + 1, `${what}: the page is ${scroll}px wide in a ${width}px window`);
}

async function headers(url) {
  const r = await fetch(url);
  return r.headers;
}

async function me(key) {
  return fetch(`${BASE}/v1/me`, { headers: { Authorization: `Bearer ${key}` } });
}

/** What a new user does: sign in with the printed key, see the memories,
 * search them and see their scores. */
async function firstRun() {
  step = 'first run: sign in with the printed key';
  const page = await open({ width: 1280, height: 900 });
  await signIn(page, RW);
  check((await page.textContent('#whoami')).includes('default · read-write'), 'the tenant `default`');
  await page.locator('#memory-list a', { hasText: MEMORY }).waitFor();
  step = 'first run: search';
  await page.click('#nav a[data-page=playground]');
  await page.fill('#search-form [name=query]', 'Where is Alice employed?');
  await page.fill('#search-form [name=user_id]', 'alice');
  await page.click('#search-form button[type=submit]');
  const hit = page.locator('#search-results tr', { hasText: MEMORY });
  await hit.waitFor();
  const [, score, fused, lexical, vector] = (await hit.locator('td').allTextContents()).map((c) => c.trim());
  for (const v of [score, fused, lexical, vector]) check(/^-?\d+\.\d{3}$/.test(v), `scores shown, got ${v}`);
  await page.locator('#context-text', { hasText: MEMORY }).waitFor();
  await shot(page, 'first-run-playground');
  assertClean(page);
}

async function full() {
  const RO = env('ENGRAM_CONSOLE_RO_KEY');
  const ADMIN = env('ENGRAM_CONSOLE_ADMIN_KEY');
  const TENANT = env('ENGRAM_CONSOLE_TENANT');
  step = 'headers';
  const h = await headers(`${BASE}/ui`);
  const csp = h.get('content-security-policy') || '';
  check(csp.includes("script-src 'self'") && !csp.includes('unsafe'), `strict CSP on /ui: ${csp}`);
  check(csp.includes("frame-ancestors 'none'") && csp.includes("connect-src 'self'"), `CSP frames and connections: ${csp}`);
  check(h.get('x-content-type-options') === 'nosniff', 'nosniff on /ui');
  check(h.get('referrer-policy') === 'no-referrer', 'no-referrer on /ui');
  check(!!h.get('etag'), 'an ETag on /ui');

  // ---- desktop, read-write key -----------------------------------------
  const page = await open({ width: 1280, height: 900 });

  step = 'wrong key';
  await page.goto(`${BASE}/ui`);
  await page.locator('h1', { hasText: 'Sign in' }).waitFor();
  await shot(page, 'signin');
  await expecting(page, [401], async () => {
    await page.fill('#key', 'egk_this-key-does-not-exist-0000000000000000000');
    await page.click('#signin button[type=submit]');
    await page.locator('#signin-status .error').waitFor();
  });
  const message = await page.textContent('#signin-status');
  check(/not valid/.test(message) && /revoked/.test(message), `a clear message for a wrong key, got: ${message}`);
  check((await page.evaluate(() => sessionStorage.length)) === 0, 'a refused key is not kept');
  check(!page.url().includes('egk_'), 'the key never goes into the URL');
  await shot(page, 'signin-wrong-key');

  step = 'sign in';
  await page.fill('#key', RW);
  await page.click('#signin button[type=submit]');
  await page.locator('h1', { hasText: 'Memories' }).waitFor();
  check((await page.textContent('#whoami')).includes(`${TENANT} · read-write`), 'the badge names the tenant and the scopes');
  check(!page.url().includes('egk_'), 'the key never goes into the URL');
  await page.locator('#memory-list a', { hasText: MEMORY }).waitFor();
  check((await page.locator('main', { hasText: 'pilot' }).count()) === 0, "another tenant's memory is not listed");
  check((await page.locator('#add-memory').count()) === 1, 'a read-write key can add memories');
  await shot(page, 'memories');

  step = 'filters';
  await page.fill('#memory-filters [name=user_id]', 'nobody-has-this-user');
  await page.click('#memory-filters button[type=submit]');
  await page.locator('#memory-list .empty').waitFor();
  await page.click('#memory-filters button[type=reset]');
  await page.locator('#memory-list a', { hasText: MEMORY }).waitFor();

  step = 'keyboard to the playground';
  // From the header on (a click on the name, which is not focusable):
  // the navigation, with the skip link just before it.
  await page.click('.brand');
  await page.keyboard.press('Tab');
  check((await page.evaluate(() => document.activeElement.textContent)) === 'Memories', 'the navigation is in the focus order');
  await page.keyboard.press('Shift+Tab');
  check((await page.evaluate(() => document.activeElement.id)) === 'skip', 'the skip link comes first');
  await page.keyboard.press('Enter');
  check((await page.evaluate(() => document.activeElement.id)) === 'main', 'the skip link moves focus to the content');
  await page.click('.brand');
  await page.keyboard.press('Tab');
  await page.keyboard.press('Tab');
  check((await page.evaluate(() => document.activeElement.textContent)) === 'Search playground', 'the navigation follows');
  await page.keyboard.press('Enter');
  await page.locator('h1', { hasText: 'Search playground' }).waitFor();
  check((await page.evaluate(() => document.activeElement.tagName)) === 'H1', 'navigation moves focus to the page heading');
  await page.keyboard.press('Tab');
  check((await page.evaluate(() => document.activeElement.name)) === 'query', 'the query field comes next');
  await page.keyboard.type('Where is Alice employed?');
  await page.keyboard.press('Enter');

  step = 'playground results';
  const hit = page.locator('#search-results tr', { hasText: MEMORY });
  await hit.waitFor();
  const cells = await hit.locator('td').allTextContents();
  const [, score, fused, lexical, vector] = cells.map((c) => c.trim());
  for (const [name, v] of [['score', score], ['fused', fused], ['lexical', lexical], ['vector', vector]]) {
    check(/^-?\d+\.\d{3}$/.test(v), `the result shows its ${name} score, got ${JSON.stringify(v)}`);
  }
  check(Number(vector) > 0 && Number(vector) <= 1, `a cosine similarity, got ${vector}`);
  check(Number(lexical) > 0, `"Alice" matched lexically, got ${lexical}`);
  await page.locator('#context-text', { hasText: MEMORY }).waitFor();
  const tokens = await page.textContent('#context-tokens');
  check(/^\d+ tokens of a budget of 300/.test(tokens), `the context block's token count, got ${tokens}`);
  await shot(page, 'playground');

  step = 'open the memory';
  await hit.locator('a').click();
  await page.locator('#memory-content', { hasText: MEMORY }).waitFor();
  await page.locator('#last-scores', { hasText: 'Where is Alice employed?' }).waitFor();
  await page.locator('#history', { hasText: 'One version' }).waitFor();
  const memoryUrl = page.url();
  await shot(page, 'memory');

  step = 'delete the memory';
  page.once('dialog', (d) => d.accept());
  await page.click('#delete-memory');
  await page.locator('#toast', { hasText: 'Memory deleted' }).waitFor();
  await page.locator('h1', { hasText: 'Memories' }).waitFor();
  await page.locator('#memory-list table, #memory-list .empty').first().waitFor();
  check((await page.locator('#memory-list', { hasText: MEMORY }).count()) === 0, 'the deleted memory is gone from the list');
  await expecting(page, [404], async () => {
    await page.goto(memoryUrl);
    await page.locator('main .error', { hasText: 'not found' }).waitFor();
  });
  await page.goto(`${BASE}/ui#/playground`);
  await page.locator('#search-results h2').waitFor();
  check((await page.locator('#search-results', { hasText: MEMORY }).count()) === 0, 'a search no longer finds it');

  step = 'conversations';
  await page.click('#nav a[data-page=conversations]');
  await page.locator('h1', { hasText: 'Conversations' }).waitFor();
  await page.locator('.folders button', { hasText: 'clients' }).click();
  await page.locator('main h2', { hasText: 'In work/clients' }).waitFor();
  await shot(page, 'conversations');
  await page.locator('main table a', { hasText: 'Bakery order' }).click();
  await page.locator('.messages li', { hasText: 'sourdough' }).first().waitFor();
  await page.click('#toggle-pinned');
  await page.locator('#toggle-pinned', { hasText: 'Unpin' }).waitFor();
  await shot(page, 'conversation');

  step = 'usage';
  await page.click('#nav a[data-page=usage]');
  await page.locator('h1', { hasText: 'Usage' }).waitFor();
  await page.locator('main table, main .empty').first().waitFor();
  await shot(page, 'usage');

  step = 'health';
  await page.click('#nav a[data-page=health]');
  await page.locator('#ready-status', { hasText: 'ready' }).waitFor();
  await page.locator('svg.chart rect').first().waitFor();
  await page.locator('#live-chart path.chart-line').waitFor({ timeout: 30000 });
  await shot(page, 'health');
  await signOut(page);
  assertClean(page);

  // ---- read-only key: no write buttons anywhere -------------------------
  step = 'read-only key';
  const ro = await open({ width: 1280, height: 900 });
  await signIn(ro, RO);
  check((await ro.textContent('#whoami')).includes('read-only'), 'the badge says read-only');
  const writes = 'button.danger, #add-memory, #toggle-pinned, #toggle-archived, #delete-memory';
  await ro.locator('#memory-list a').first().waitFor();
  check((await ro.locator(writes).count()) === 0, 'no write buttons on Memories');
  await shot(ro, 'memories-read-only');
  await ro.locator('#memory-list a').first().click();
  await ro.locator('#memory-content').waitFor();
  check((await ro.locator(writes).count()) === 0, 'no delete button on a memory');
  await ro.click('#nav a[data-page=conversations]');
  await ro.locator('main table a', { hasText: 'Bakery order' }).click();
  await ro.locator('.messages li').first().waitFor();
  check((await ro.locator(writes).count()) === 0, 'no pin or archive buttons on a conversation');
  check((await ro.locator('#nav a[data-page=admin]').count()) === 0, 'no Admin page for a tenant key');
  await signOut(ro);
  assertClean(ro);

  // ---- admin: a key created, shown once, revoked ------------------------
  step = 'admin';
  const admin = await open({ width: 1280, height: 900 });
  await signIn(admin, ADMIN);
  await admin.locator('h1', { hasText: 'Admin' }).waitFor();
  check((await admin.locator('#nav a[data-page=memories]').count()) === 0, 'no Memories page for the admin key');
  await admin.locator('main table a', { hasText: TENANT }).click();
  await admin.locator('#tenant-detail h2', { hasText: TENANT }).waitFor();
  await admin.fill('#new-key [name=name]', 'console-made');
  await admin.click('#new-key button[type=submit]');
  const secret = (await admin.locator('#secret-value').textContent()).trim();
  check(secret.startsWith('egk_'), `the new key is shown, got ${secret.slice(0, 8)}…`);
  const made = await (await me(secret)).json();
  check(made.kind === 'tenant' && made.scopes.join() === 'read', `the shown key works, read-only: ${JSON.stringify(made)}`);
  await shot(admin, 'admin-new-key');
  await admin.click('#nav a[data-page=health]');
  await admin.locator('#ready-status').waitFor();
  await admin.click('#nav a[data-page=admin]');
  await admin.locator('main table a', { hasText: TENANT }).click();
  await admin.locator('#tenant-detail td', { hasText: 'console-made' }).waitFor();
  check((await admin.locator('#secret-value').count()) === 0, 'the key is shown only once');
  check(!(await admin.content()).includes(secret), 'the secret is nowhere on the page any more');
  await shot(admin, 'admin');
  admin.once('dialog', (d) => d.accept());
  await admin.click('button[aria-label="Revoke key console-made"]');
  await admin.locator('#toast', { hasText: 'revoked' }).waitFor();
  await admin.locator('#tenant-detail td', { hasText: 'console-made' }).waitFor({ state: 'detached' });
  check((await me(secret)).status === 401, 'the revoked key stops working');
  await signOut(admin);
  assertClean(admin);

  // ---- phone width -------------------------------------------------------
  step = 'phone';
  const phone = await open({ width: 390, height: 844 });
  await signIn(phone, RW);
  await phone.locator('#memory-list a').first().waitFor();
  await noHorizontalScroll(phone, 'Memories at 390 px');
  await shot(phone, 'memories-phone');
  await phone.click('#nav a[data-page=playground]');
  await phone.fill('#search-form [name=query]', 'sourdough');
  await phone.click('#search-form button[type=submit]');
  await phone.locator('#context-text').waitFor();
  await noHorizontalScroll(phone, 'Playground at 390 px');
  await shot(phone, 'playground-phone');
  await phone.click('#nav a[data-page=health]');
  await phone.locator('svg.chart rect').first().waitFor();
  await noHorizontalScroll(phone, 'Health at 390 px');
  await shot(phone, 'health-phone');
  assertClean(phone);
}

try {
  if (SCENARIO === 'first-run') await firstRun();
  else await full();
  console.log(JSON.stringify({ ok: true, scenario: SCENARIO, screenshots: SHOTS }));
  await browser.close();
} catch (e) {
  console.error(`console test failed at step "${step}": ${e.message}`);
  await browser.close();
  process.exit(1);
}
