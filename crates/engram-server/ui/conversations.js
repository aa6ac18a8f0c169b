// Conversations: the folder tree, the threads of a folder, one thread's
// messages; pin and archive for keys that may write.

import { get, patch, query, seg } from './api.js';
import { announce, errorBox, fill, h, table, time } from './dom.js';

let state = { folder: '', archived: false };

export async function render(main, ctx, [id]) {
  if (id) return renderOne(main, ctx, id);
  const [folders, page] = await Promise.all([
    get('/v1/folders'),
    get(`/v1/conversations${query({ folder: state.folder, archived: state.archived ? 'true' : 'false', limit: 100 })}`),
  ]);
  const tree = h(
    'nav',
    { class: 'card folders', 'aria-label': 'Folders' },
    h('h2', {}, 'Folders'),
    h(
      'ul',
      { class: 'tree' },
      h('li', {}, folderLink('', 'All conversations', null, ctx)),
      folders.folders.map((f) =>
        h('li', { class: `depth-${Math.min(f.depth, 6)}` }, folderLink(f.path, f.path.split('/').pop(), f.total, ctx)),
      ),
    ),
  );
  const archivedToggle = h('input', {
    type: 'checkbox',
    id: 'show-archived',
    checked: state.archived,
    onchange: (e) => {
      state.archived = e.target.checked;
      ctx.go('#/conversations');
    },
  });
  fill(
    main,
    h('h1', {}, 'Conversations'),
    h(
      'div',
      { class: 'split' },
      tree,
      h(
        'section',
        {},
        h('h2', {}, state.folder ? `In ${state.folder}` : 'All folders'),
        h('div', { class: 'check' }, archivedToggle, h('label', { for: 'show-archived' }, 'Show archived conversations instead')),
        page.items.length
          ? table(
              'Conversations, newest first',
              ['Title', 'Folder', 'Label', 'Flags', 'Updated'],
              page.items.map((c) => [
                h('a', { href: `#/conversations/${seg(c.id)}` }, c.title),
                c.folder || '',
                c.label || '',
                [c.pinned ? 'pinned' : '', c.archived ? 'archived' : ''].filter(Boolean).join(', '),
                time(c.updated_at),
              ]),
            )
          : h('p', { class: 'empty' }, 'No conversations here. Create them with POST /v1/conversations or import a ChatGPT or Claude export (engram import).'),
      ),
    ),
  );
}

function folderLink(path, text, total, ctx) {
  return h(
    'button',
    {
      type: 'button',
      class: 'link',
      'aria-current': state.folder === path ? 'true' : null,
      onclick: () => {
        state.folder = path;
        ctx.go('#/conversations');
      },
    },
    total === null ? text : `${text} (${total})`,
  );
}

async function renderOne(main, ctx, id) {
  const [c, msgs] = await Promise.all([
    get(`/v1/conversations/${seg(id)}`),
    get(`/v1/conversations/${seg(id)}/messages?limit=200`),
  ]);
  const status = h('div');
  const toggle = (flag, on, off) =>
    h(
      'button',
      {
        type: 'button',
        class: 'secondary',
        'aria-pressed': c[flag] ? 'true' : 'false',
        id: `toggle-${flag}`,
        onclick: async () => {
          try {
            await patch(`/v1/conversations/${seg(id)}`, { [flag]: !c[flag] });
            announce(c[flag] ? `${off}.` : `${on}.`);
            ctx.go(`#/conversations/${seg(id)}`);
          } catch (err) {
            fill(status, errorBox(err));
          }
        },
      },
      c[flag] ? `Un${flag === 'pinned' ? 'pin' : 'archive'}` : flag === 'pinned' ? 'Pin' : 'Archive',
    );
  fill(
    main,
    h('p', {}, h('a', { href: '#/conversations' }, '← All conversations')),
    h('h1', {}, c.title),
    h(
      'p',
      { class: 'meta' },
      [c.folder && `folder ${c.folder}`, c.label && `label ${c.label}`, `importance ${c.importance}`, c.pinned && 'pinned', c.archived && 'archived', c.source && `imported from ${c.source}`]
        .filter(Boolean)
        .join(' · '),
    ),
    ctx.canWrite ? h('div', { class: 'actions' }, toggle('pinned', 'Pinned', 'Unpinned'), toggle('archived', 'Archived', 'Unarchived')) : null,
    status,
    h(
      'ol',
      { class: 'messages' },
      msgs.items.map((m) =>
        h(
          'li',
          { class: `message role-${m.role}` },
          h('div', { class: 'who' }, h('strong', {}, m.role), ' ', time(m.occurred_at)),
          h('div', { class: 'text' }, m.content),
        ),
      ),
    ),
    msgs.items.length ? null : h('p', { class: 'empty' }, 'No messages yet.'),
  );
}
