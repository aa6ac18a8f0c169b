// Search playground: one query sent to /v1/search (with `explain`, for the
// lexical, vector and fused scores) and to /v1/context (the block exactly
// as a prompt would get it), under the same filters.

import { post, seg } from './api.js';
import { errorBox, field, fill, formValues, h, input, num, select, table } from './dom.js';

/** The last search's results, for the memory page's "scores" section. */
export const lastSearch = { query: '', mode: '', results: [] };

// The form's values, kept while the tab lives.
let saved = { mode: 'hybrid', limit: '10', token_budget: '300' };

const MODES = [
  ['hybrid', 'hybrid'],
  ['keyword', 'keyword'],
  ['vector', 'vector'],
];
const KINDS = [['', 'any kind'], ['episodic', 'episodic'], ['semantic', 'semantic'], ['procedural', 'procedural'], ['summary', 'summary']];

function filters(v) {
  const f = {};
  for (const k of ['user_id', 'agent_id', 'session_id', 'kind']) if (v[k]) f[k] = v[k];
  if (v.labels) f.labels = v.labels.split(',').map((s) => s.trim()).filter(Boolean);
  return f;
}

export async function render(main) {
  const v = saved;
  const results = h('section', { id: 'search-results', 'aria-live': 'polite' });
  const context = h('section', { id: 'context-block' });
  const form = h(
    'form',
    { class: 'card', id: 'search-form', role: 'search' },
    field('Query', input('query', { value: v.query, required: true, type: 'search' })),
    h(
      'div',
      { class: 'row' },
      field('Mode', select('mode', MODES, v.mode), 'hybrid fuses BM25 and vectors'),
      field('Results', h('input', { type: 'number', name: 'limit', min: 1, max: 100, value: v.limit })),
      field('Token budget', h('input', { type: 'number', name: 'token_budget', min: 1, max: 100000, value: v.token_budget }), 'for the context block'),
    ),
    h(
      'div',
      { class: 'row' },
      field('User', input('user_id', { value: v.user_id })),
      field('Agent', input('agent_id', { value: v.agent_id })),
      field('Session', input('session_id', { value: v.session_id })),
      field('Kind', select('kind', KINDS, v.kind || '')),
      field('Labels', input('labels', { value: v.labels }), 'all of these, comma-separated'),
    ),
    h('button', { type: 'submit' }, 'Search'),
  );
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    saved = formValues(form);
    await run(saved, results, context);
  });
  fill(
    main,
    h('h1', {}, 'Search playground'),
    h('p', {}, 'Ranks memories as /v1/search does, and builds the context block /v1/context returns for the same query.'),
    form,
    results,
    context,
  );
  if (v.query) await run(v, results, context);
}

async function run(v, results, context) {
  const f = filters(v);
  fill(results, h('p', { class: 'loading' }, 'Searching…'));
  fill(context);
  const searchBody = { query: v.query || '', mode: v.mode, limit: Number(v.limit || 10), filters: f, explain: true };
  const contextBody = { query: v.query || '', token_budget: Number(v.token_budget || 1000), filters: f };
  const [search, ctx] = await Promise.allSettled([post('/v1/search', searchBody), post('/v1/context', contextBody)]);
  if (search.status === 'rejected') {
    fill(results, errorBox(search.reason));
  } else {
    const r = search.value;
    Object.assign(lastSearch, { query: v.query, mode: v.mode, results: r.results });
    fill(
      results,
      h('h2', {}, `Results (${r.results.length}, ${r.took_ms.toFixed(1)} ms)`),
      r.results.length
        ? table(
            'Search results, best first, with their scores',
            ['#', 'Score', 'Fused', 'Lexical', 'Vector', 'Memory'],
            r.results.map((x, i) => [
              String(i + 1),
              h('span', { class: 'score' }, num(x.score)),
              num(x.explain?.fused),
              num(x.explain?.lexical),
              num(x.explain?.vector),
              h('a', { href: `#/memories/${seg(x.memory.id)}`, class: 'result-link' }, x.memory.content),
            ]),
          )
        : h('p', { class: 'empty' }, 'Nothing matches this query under these filters.'),
      h('p', { class: 'hint' }, 'Lexical is BM25 over the words (— when no word matched), vector the cosine similarity of the embeddings, fused the first-stage score the mode ranks by, with importance and recency added.'),
    );
  }
  if (ctx.status === 'rejected') {
    fill(context, errorBox(ctx.reason));
  } else {
    const c = ctx.value;
    fill(
      context,
      h('h2', {}, 'Context block'),
      h('p', { id: 'context-tokens' }, `${c.tokens} tokens of a budget of ${contextBody.token_budget}, ${c.items.length} memories cited.`),
      h('pre', { class: 'context', id: 'context-text', tabindex: 0, 'aria-label': 'Context block' }, c.context || '(empty: nothing relevant fits the budget)'),
    );
  }
}
