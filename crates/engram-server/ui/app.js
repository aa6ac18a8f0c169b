// The console's shell: who is signed in, the navigation, and hash routes
// (`#/memories`), so a page's address never carries the key and the
// server needs one route for the whole console.

import { ApiError, get, session } from './api.js';
import { fill, focusHeading, h } from './dom.js';
import * as signin from './signin.js';
import * as memories from './memories.js';
import * as playground from './playground.js';
import * as conversations from './conversations.js';
import * as usage from './usage.js';
import * as admin from './admin.js';
import * as health from './health.js';

// Which pages each kind of key can use: the admin key manages tenants and
// keys only, tenant keys everything else.
const PAGES = [
  { path: 'memories', title: 'Memories', page: memories, kinds: ['tenant'] },
  { path: 'playground', title: 'Search playground', page: playground, kinds: ['tenant'] },
  { path: 'conversations', title: 'Conversations', page: conversations, kinds: ['tenant'] },
  { path: 'usage', title: 'Usage', page: usage, kinds: ['tenant'] },
  { path: 'admin', title: 'Admin', page: admin, kinds: ['admin'] },
  { path: 'health', title: 'Health', page: health, kinds: ['tenant', 'admin'] },
];

const main = document.getElementById('main');
let me = null;
let leave = null;

/** What every page gets: who is calling and whether it may write. */
function context() {
  return {
    me,
    canWrite: me?.kind === 'tenant' && me.scopes.includes('write'),
    go: (hash) => {
      if (location.hash === hash) route();
      else location.hash = hash;
    },
  };
}

function pagesFor(kind) {
  return PAGES.filter((p) => p.kinds.includes(kind));
}

function renderShell() {
  const nav = document.getElementById('nav');
  const who = document.getElementById('who');
  if (!me) {
    nav.hidden = true;
    fill(nav);
    fill(who);
    return;
  }
  nav.hidden = false;
  fill(
    nav,
    h('ul', {}, pagesFor(me.kind).map((p) => h('li', {}, h('a', { href: `#/${p.path}`, 'data-page': p.path }, p.title)))),
  );
  const label =
    me.kind === 'admin'
      ? 'admin key'
      : `${me.tenant.name} · ${me.scopes.includes('write') ? 'read-write' : 'read-only'}`;
  fill(
    who,
    h('span', { class: 'badge', id: 'whoami' }, label),
    h('button', { type: 'button', class: 'secondary', id: 'signout', onclick: signOut }, 'Sign out'),
  );
}

function signOut() {
  session.clear();
  me = null;
  renderShell();
  context().go('#/signin');
}

/** Signs in with `key`: the server says what the key is (GET /v1/me). */
export async function signInWith(key) {
  const who = await get('/v1/me', { key });
  session.set(key);
  me = who;
  renderShell();
  context().go(`#/${pagesFor(me.kind)[0].path}`);
}

async function route() {
  if (leave) {
    leave();
    leave = null;
  }
  const [name, ...rest] = location.hash.replace(/^#\/?/, '').split('/');
  if (!me) {
    signin.render(main, { signIn: signInWith });
    document.title = 'Sign in · engram console';
    focusHeading(main);
    return;
  }
  const pages = pagesFor(me.kind);
  const page = pages.find((p) => p.path === name);
  if (!page) {
    location.replace(`#/${pages[0].path}`);
    return;
  }
  for (const a of document.querySelectorAll('#nav a')) {
    if (a.dataset.page === page.path) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  document.title = `${page.title} · engram console`;
  fill(main, h('p', { class: 'loading' }, 'Loading…'));
  try {
    leave = (await page.page.render(main, context(), rest.map(decodeURIComponent))) || null;
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) {
      signOut();
      return;
    }
    fill(main, h('h1', {}, page.title), h('p', { class: 'error', role: 'alert' }, e.message));
  }
  focusHeading(main);
}

async function start() {
  document.getElementById('skip').addEventListener('click', (e) => {
    e.preventDefault();
    main.focus();
  });
  const key = session.key();
  if (key) {
    try {
      me = await get('/v1/me');
    } catch {
      session.clear();
    }
  }
  renderShell();
  window.addEventListener('hashchange', route);
  await route();
}

start();
