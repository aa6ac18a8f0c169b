// Sign in: a tenant key or the admin key, checked against GET /v1/me.

import { ApiError } from './api.js';
import { errorBox, field, fill, h } from './dom.js';

/** What to tell someone whose key was refused, by the server's code. */
function explain(err) {
  if (!(err instanceof ApiError)) return err.message;
  switch (err.code) {
    case 'invalid_key':
      return 'This key is not valid: it is unknown or was revoked. Paste the whole key (tenant keys start with egk_), or ask your admin for a new one.';
    case 'missing_key':
      return 'Paste a key first.';
    case 'rate_limited':
      return 'Too many attempts with this key; wait a few seconds and try again.';
    default:
      return err.message;
  }
}

export function render(main, { signIn }) {
  const key = h('input', {
    type: 'password',
    name: 'key',
    id: 'key',
    required: true,
    autocomplete: 'off',
    spellcheck: 'false',
  });
  const status = h('div', { id: 'signin-status' });
  const form = h(
    'form',
    { class: 'card narrow', id: 'signin' },
    field('API key', key, 'A tenant key, or the admin key to manage tenants and keys. It is kept in this tab only (session storage) and sent only to this server.'),
    h('button', { type: 'submit' }, 'Sign in'),
    status,
  );
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    fill(status);
    const value = key.value.trim();
    if (!value) {
      fill(status, errorBox(new Error('Paste a key first.')));
      key.focus();
      return;
    }
    try {
      await signIn(value);
    } catch (err) {
      key.setAttribute('aria-invalid', 'true');
      fill(status, errorBox(new Error(explain(err))));
      key.focus();
    }
  });
  fill(
    main,
    h('h1', {}, 'Sign in to engram'),
    h(
      'p',
      {},
      'On a first run, engram prints a key for the tenant "default" at startup; paste it here.',
    ),
    form,
  );
}
