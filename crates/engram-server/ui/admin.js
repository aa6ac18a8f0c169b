// Admin (admin key): tenants and their keys. A new key's secret is shown
// once, as the API returns it, and never stored by the console.

import { del, get, post, seg } from './api.js';
import { announce, errorBox, field, fill, formValues, h, input, table, time } from './dom.js';

export async function render(main, ctx, [tenantId]) {
  const tenants = (await get('/v1/tenants')).items;
  const status = h('div');
  const create = h(
    'form',
    { class: 'card', id: 'new-tenant' },
    h('h2', {}, 'New tenant'),
    field('Name', input('name', { required: true })),
    h('button', { type: 'submit' }, 'Create tenant'),
    status,
  );
  create.addEventListener('submit', async (e) => {
    e.preventDefault();
    try {
      const t = await post('/v1/tenants', { name: formValues(create).name || '' });
      announce(`Tenant ${t.name} created.`);
      ctx.go(`#/admin/${seg(t.id)}`);
    } catch (err) {
      fill(status, errorBox(err));
    }
  });
  const detail = h('section', { id: 'tenant-detail' });
  fill(
    main,
    h('h1', {}, 'Admin'),
    h(
      'div',
      { class: 'split' },
      h(
        'section',
        {},
        h('h2', {}, 'Tenants'),
        table(
          'Tenants',
          ['Name', 'Created'],
          tenants.map((t) => [
            h('a', { href: `#/admin/${seg(t.id)}`, 'aria-current': t.id === tenantId ? 'true' : null }, t.name),
            time(t.created_at),
          ]),
        ),
        create,
      ),
      detail,
    ),
  );
  const tenant = tenants.find((t) => t.id === tenantId);
  if (tenant) await renderTenant(detail, ctx, tenant);
  else fill(detail, h('p', { class: 'hint' }, 'Choose a tenant to see and manage its keys.'));
}

async function renderTenant(root, ctx, tenant) {
  const [keys, budgets] = await Promise.all([
    get(`/v1/tenants/${seg(tenant.id)}/keys`),
    get(`/v1/tenants/${seg(tenant.id)}/budgets`),
  ]);
  const status = h('div');
  const secret = h('div', { id: 'new-key-secret' });
  const create = h(
    'form',
    { class: 'card', id: 'new-key' },
    h('h3', {}, 'New key'),
    field('Name', input('name', { required: true })),
    h(
      'fieldset',
      {},
      h('legend', {}, 'Scopes'),
      h('div', { class: 'check' }, h('input', { type: 'checkbox', name: 'read', id: 'scope-read', checked: true }), h('label', { for: 'scope-read' }, 'read')),
      h('div', { class: 'check' }, h('input', { type: 'checkbox', name: 'write', id: 'scope-write' }), h('label', { for: 'scope-write' }, 'write')),
    ),
    h('button', { type: 'submit' }, 'Create key'),
    status,
  );
  create.addEventListener('submit', async (e) => {
    e.preventDefault();
    const v = formValues(create);
    const scopes = ['read', 'write'].filter((s) => create.elements[s].checked);
    try {
      const k = await post(`/v1/tenants/${seg(tenant.id)}/keys`, { name: v.name || '', scopes });
      await renderTenant(root, ctx, tenant);
      const shown = root.querySelector('#new-key-secret');
      fill(
        shown,
        h(
          'div',
          { class: 'card secret', role: 'alert' },
          h('h3', {}, `Key “${k.name}” (${k.scopes.join(', ')})`),
          h('p', {}, 'Copy it now: it is shown only this once, and engram keeps only its hash.'),
          h('code', { id: 'secret-value', class: 'secret-value', tabindex: 0 }, k.key),
          h(
            'button',
            {
              type: 'button',
              class: 'secondary',
              onclick: async () => {
                try {
                  await navigator.clipboard.writeText(k.key);
                  announce('Key copied.');
                } catch {
                  announce('Copying was refused by the browser; select the key and copy it.', 'warn');
                }
              },
            },
            'Copy',
          ),
        ),
      );
      shown.querySelector('#secret-value').focus();
    } catch (err) {
      fill(status, errorBox(err));
    }
  });
  fill(
    root,
    h('h2', {}, `Tenant ${tenant.name}`),
    h('p', { class: 'meta' }, 'id ', h('code', {}, tenant.id)),
    secret,
    h('h3', {}, 'Keys'),
    keys.items.length
      ? table(
          `Keys of ${tenant.name}`,
          ['Name', 'Scopes', 'Created', ''],
          keys.items.map((k) => [
            k.name,
            k.scopes.join(', '),
            time(k.created_at),
            h(
              'button',
              {
                type: 'button',
                class: 'danger small',
                'aria-label': `Revoke key ${k.name}`,
                'data-key': k.id,
                onclick: async () => {
                  if (!window.confirm(`Revoke key “${k.name}”? It stops working at once.`)) return;
                  try {
                    await del(`/v1/tenants/${seg(tenant.id)}/keys/${seg(k.id)}`);
                    await renderTenant(root, ctx, tenant);
                    announce(`Key ${k.name} revoked.`);
                  } catch (err) {
                    fill(status, errorBox(err));
                  }
                },
              },
              'Revoke',
            ),
          ]),
        )
      : h('p', { class: 'empty' }, 'No keys: nobody can use this tenant yet.'),
    create,
    h('h3', {}, 'Budgets'),
    budgets.items.length
      ? table(
          `Budgets of ${tenant.name}`,
          ['Metric', 'Period', 'Project', 'Limit', 'Used', 'Hard'],
          budgets.items.map((b) => [b.metric, b.period, b.project || '(tenant)', String(b.limit), String(b.used ?? ''), b.hard ? 'yes' : 'no']),
        )
      : h('p', { class: 'empty' }, 'No budgets (PUT /v1/tenants/{id}/budgets sets one; docs/BUDGETS.md).'),
  );
}
