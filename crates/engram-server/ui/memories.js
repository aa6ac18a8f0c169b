// Memories: filter, page through, read one whole (metadata, history, the
// scores the last playground search gave it), add and delete.

import { del, get, post, query, seg } from './api.js';
import { errorBox, field, fill, focusHeading, formValues, h, input, num, select, table, time, announce } from './dom.js';
import { lastSearch } from './playground.js';

const KINDS = [
  ['', 'any kind'],
  ['episodic', 'episodic'],
  ['semantic', 'semantic'],
  ['procedural', 'procedural'],
  ['summary', 'summary'],
];
const PAGE_SIZE = 25;

// The filters and the cursors of the pages seen, kept while the tab lives
// so going back from a memory returns to the same page.
const state = { filters: {}, cursors: [null] };

export async function render(main, ctx, [id]) {
  if (id) return renderOne(main, ctx, id);
  return renderList(main, ctx);
}

function toIso(local) {
  return local ? new Date(local).toISOString() : undefined;
}

function filterForm(onApply) {
  const f = state.filters;
  const form = h(
    'form',
    { class: 'filters', id: 'memory-filters', 'aria-label': 'Filter memories' },
    field('User', input('user_id', { value: f.user_id })),
    field('Agent', input('agent_id', { value: f.agent_id })),
    field('Session', input('session_id', { value: f.session_id })),
    field('Label', input('label', { value: f.label })),
    field('Kind', select('kind', KINDS, f.kind || '')),
    field('After', h('input', { type: 'datetime-local', name: 'after', value: f.after })),
    field('Before', h('input', { type: 'datetime-local', name: 'before', value: f.before })),
    h(
      'div',
      { class: 'actions' },
      h('button', { type: 'submit' }, 'Apply filters'),
      h('button', { type: 'reset', class: 'secondary' }, 'Clear'),
    ),
  );
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    onApply(formValues(form));
  });
  form.addEventListener('reset', () => setTimeout(() => onApply({}), 0));
  return form;
}

function addForm(onAdded) {
  const status = h('div');
  const form = h(
    'form',
    { class: 'card', id: 'add-memory' },
    h('h2', {}, 'Add a memory'),
    field('Content', h('textarea', { name: 'content', rows: 3, required: true })),
    h(
      'div',
      { class: 'row' },
      field('User', input('user_id')),
      field('Kind', select('kind', KINDS.slice(1, 4), 'episodic')),
      field('Labels', input('labels'), 'comma-separated'),
    ),
    h('button', { type: 'submit' }, 'Add memory'),
    status,
  );
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const v = formValues(form);
    const body = { content: v.content, kind: v.kind };
    if (v.user_id) body.user_id = v.user_id;
    if (v.labels) body.labels = v.labels.split(',').map((s) => s.trim()).filter(Boolean);
    try {
      const m = await post('/v1/memories', body);
      form.reset();
      fill(status);
      announce(`Memory added (${m.id}).`);
      onAdded();
    } catch (err) {
      fill(status, errorBox(err));
    }
  });
  return form;
}

async function renderList(main, ctx) {
  const page = state.cursors.length - 1;
  const f = state.filters;
  const params = {
    user_id: f.user_id,
    agent_id: f.agent_id,
    session_id: f.session_id,
    label: f.label,
    kind: f.kind,
    after: toIso(f.after),
    before: toIso(f.before),
    limit: PAGE_SIZE,
    cursor: state.cursors[page],
  };
  const list = h('div', { id: 'memory-list' });
  const rerender = async () => {
    await renderList(main, ctx);
    focusHeading(main);
  };
  fill(
    main,
    h('h1', {}, 'Memories'),
    filterForm((values) => {
      state.filters = values;
      state.cursors = [null];
      rerender();
    }),
    ctx.canWrite ? addForm(rerender) : null,
    list,
  );
  let data;
  try {
    data = await get(`/v1/memories${query(params)}`);
  } catch (err) {
    fill(list, errorBox(err));
    return;
  }
  const rows = data.items.map((m) => [
    time(m.occurred_at),
    h('a', { href: `#/memories/${seg(m.id)}`, class: 'memory-link' }, clip(m.content, 140)),
    m.user_id || '',
    m.kind,
    (m.labels || []).join(', '),
  ]);
  const pager = h(
    'nav',
    { class: 'pager', 'aria-label': 'Pages of memories' },
    h(
      'button',
      {
        type: 'button',
        class: 'secondary',
        disabled: page === 0,
        onclick: () => {
          state.cursors.pop();
          rerender();
        },
      },
      'Previous page',
    ),
    h('span', {}, `Page ${page + 1}`),
    h(
      'button',
      {
        type: 'button',
        class: 'secondary',
        id: 'next-page',
        disabled: !data.next_cursor,
        onclick: () => {
          state.cursors.push(data.next_cursor);
          rerender();
        },
      },
      'Next page',
    ),
  );
  fill(
    list,
    data.items.length
      ? table('Memories, newest first', ['Occurred', 'Content', 'User', 'Kind', 'Labels'], rows)
      : h('p', { class: 'empty' }, 'No memories match these filters.'),
    pager,
  );
}

function clip(s, n) {
  return s.length > n ? `${s.slice(0, n - 1)}…` : s;
}

function dl(pairs) {
  return h(
    'dl',
    { class: 'record' },
    pairs.filter(([, v]) => v !== undefined && v !== null && v !== '').flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]),
  );
}

async function renderOne(main, ctx, id) {
  const m = await get(`/v1/memories/${seg(id)}`);
  const status = h('div');
  const scored = lastSearch.results.find((r) => r.memory.id === id);
  const scores = scored
    ? h(
        'section',
        { class: 'card', id: 'last-scores' },
        h('h2', {}, 'Scores in the last search'),
        h('p', {}, `Rank ${lastSearch.results.indexOf(scored) + 1} for “${lastSearch.query}” (${lastSearch.mode}).`),
        dl([
          ['Score', num(scored.score)],
          ['Fused (first stage)', num(scored.explain?.fused)],
          ['Lexical (BM25)', num(scored.explain?.lexical)],
          ['Vector (cosine)', num(scored.explain?.vector)],
        ]),
      )
    : h('p', { class: 'hint' }, 'Search for it in the playground to see its scores here.');
  const deleteButton = ctx.canWrite
    ? h(
        'button',
        {
          type: 'button',
          class: 'danger',
          id: 'delete-memory',
          onclick: async () => {
            if (!window.confirm('Delete this memory? This cannot be undone.')) return;
            try {
              await del(`/v1/memories/${seg(id)}`);
              lastSearch.results = lastSearch.results.filter((r) => r.memory.id !== id);
              announce('Memory deleted.');
              ctx.go('#/memories');
            } catch (err) {
              fill(status, errorBox(err));
            }
          },
        },
        'Delete memory',
      )
    : null;
  const history = h('section', { class: 'card', id: 'history' }, h('h2', {}, 'History'), h('p', {}, 'Loading…'));
  fill(
    main,
    h('p', {}, h('a', { href: '#/memories' }, '← All memories')),
    h('h1', {}, 'Memory'),
    h('blockquote', { class: 'content', id: 'memory-content' }, m.content),
    dl([
      ['Id', h('code', {}, m.id)],
      ['Kind', m.kind],
      ['User', m.user_id],
      ['Agent', m.agent_id],
      ['Session', m.session_id],
      ['Role', m.role],
      ['Labels', (m.labels || []).join(', ')],
      ['Importance', num(m.importance, 2)],
      ['Version', m.version],
      ['Occurred', time(m.occurred_at)],
      ['Valid from', time(m.valid_from)],
      ['Valid to', time(m.valid_to)],
      ['Created', time(m.created_at)],
      ['Updated', time(m.updated_at)],
    ]),
    h('h2', {}, 'Metadata'),
    h('pre', { class: 'json' }, JSON.stringify(m.metadata || {}, null, 2)),
    scores,
    history,
    deleteButton,
    status,
  );
  try {
    const hist = await get(`/v1/memories/${seg(id)}/history`);
    const versions = hist.versions || hist.items || [];
    fill(
      history,
      h('h2', {}, 'History'),
      versions.length > 1
        ? table(
            'Versions of this memory, oldest first',
            ['Version', 'Content', 'Valid from', 'Valid to'],
            versions.map((v) => [v.version ?? '', v.id === id ? h('strong', {}, v.content) : h('a', { href: `#/memories/${seg(v.id)}` }, v.content), time(v.valid_from), time(v.valid_to)]),
          )
        : h('p', {}, 'One version: it was never replaced.'),
    );
  } catch (err) {
    fill(history, h('h2', {}, 'History'), errorBox(err));
  }
}
