// What the Overview and Movements pages share: the dimension and date range they show (from the hash, else the
// data's defaults from /api/v1/overview/meta), query strings, and percentages in the browser's locale.

export const percent = new Intl.NumberFormat(undefined, { style: 'percent', maximumFractionDigits: 1 });

/** A query string from the defined, non-empty entries of `q`. */
export function qs(q) {
  return new URLSearchParams(Object.entries(q).filter(([, v]) => v !== undefined && v !== '')).toString();
}

/**
 * The page's view: `{ meta, dims, dimension, from, to, go }`. `dimension` is the hash's when the rules know it, else
 * the first dimension; `from`/`to` (UTC days, YYYY-MM-DD) the hash's, else the data's default range; `go(q)` navigates
 * to `page` with the view's parameters overridden by `q`.
 */
export async function tierView(ctx, page) {
  const meta = await ctx.api('/api/v1/overview/meta');
  const dims = meta.dimensions;
  const dimension = dims.some((d) => d.id === ctx.query.dimension)
    ? ctx.query.dimension
    : (dims[0]?.id ?? 'value_tier');
  const from = ctx.query.from || meta.default_range?.from;
  const to = ctx.query.to || meta.default_range?.to;
  const go = (q) => ctx.navigate(page, [], { dimension, from, to, ...q });
  return { meta, dims, dimension, from, to, go };
}
