// Usage: this tenant's metered LLM and embedding calls (GET /v1/usage),
// by day, kind or project, over the last 30 days.

import { get, query } from './api.js';
import { fill, h, select, table } from './dom.js';

let groupBy = 'day';

export async function render(main, ctx) {
  const report = await get(`/v1/usage${query({ group_by: groupBy })}`);
  const pick = select('group_by', [['day', 'day'], ['kind', 'kind'], ['project', 'project']], groupBy);
  pick.id = 'group-by';
  pick.addEventListener('change', () => {
    groupBy = pick.value;
    ctx.go('#/usage');
  });
  const total = report.items.reduce(
    (t, i) => ({
      calls: t.calls + i.calls,
      input: t.input + i.input_tokens,
      output: t.output + i.output_tokens,
      cost: t.cost + i.cost,
    }),
    { calls: 0, input: 0, output: 0, cost: 0 },
  );
  fill(
    main,
    h('h1', {}, 'Usage'),
    h('p', {}, 'LLM and embedding calls of this tenant over the last 30 days. Budgets are set with the admin key (docs/BUDGETS.md); over a hard one, spending calls answer 402.'),
    h('div', { class: 'field inline' }, h('label', { for: 'group-by' }, 'Group by'), pick),
    h(
      'ul',
      { class: 'stats' },
      h('li', {}, h('strong', {}, String(total.calls)), ' calls'),
      h('li', {}, h('strong', {}, String(total.input)), ' tokens in'),
      h('li', {}, h('strong', {}, String(total.output)), ' tokens out'),
      h('li', {}, h('strong', {}, `$${total.cost.toFixed(4)}`), ' cost'),
    ),
    report.items.length
      ? table(
          `Usage by ${groupBy}`,
          [groupBy, 'Calls', 'Tokens in', 'Tokens out', 'Cost (USD)', 'Time (ms)'],
          report.items.map((i) => [i.group || '(none)', String(i.calls), String(i.input_tokens), String(i.output_tokens), i.cost.toFixed(4), String(i.duration_ms)]),
        )
      : h('p', { class: 'empty' }, 'Nothing metered yet.'),
  );
}
