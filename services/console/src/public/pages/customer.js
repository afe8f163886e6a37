// The customer page (stub: its owner fills it in). render(root, ctx): see app.js for ctx.
export async function render(root, ctx) {
  root.append(ctx.el('h1', {}, 'Customer'), ctx.el('p', { class: 'muted' }, 'Not built yet.'));
}
