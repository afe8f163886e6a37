// The console's shell: a hash router (#/<page>/<param>?<query>), the navigation, and the helpers every page module
// gets in `ctx`. A page module (pages/<page>.js) exports `render(root, ctx)`; it may return a cleanup function.
import * as echarts from '/vendor/echarts.mjs';

/** The five pages, in navigation order. */
export const PAGES = [
  { id: 'overview', title: 'Overview' },
  { id: 'movements', title: 'Movements' },
  { id: 'customer', title: 'Customer' },
  { id: 'rules', title: 'Rules' },
  { id: 'operations', title: 'Operations' },
];

const errorBox = () => document.getElementById('error');

/** Shows a message in the error banner (cleared on the next navigation). */
export function showError(message) {
  const box = errorBox();
  box.textContent = message;
  box.hidden = false;
}

/** Thrown by api() for a non-2xx answer: `status` and the server's `error` message. */
export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

/**
 * GET (or `init.method`) a console API path (`/api/v1/...`) and return its JSON. 401 goes to the login page; any
 * other error is shown in the banner (unless `init.quiet`) and thrown as ApiError. `init.json` sends a JSON body.
 */
export async function api(path, init = {}) {
  const { json, quiet, ...rest } = init;
  const res = await fetch(path, {
    credentials: 'same-origin',
    ...rest,
    headers: {
      accept: 'application/json',
      ...(json !== undefined ? { 'content-type': 'application/json' } : {}),
      ...(rest.headers ?? {}),
    },
    body: json !== undefined ? JSON.stringify(json) : rest.body,
  });
  if (res.status === 401) {
    location.assign(`/login.html${location.hash}`);
    throw new ApiError(401, 'authentication required');
  }
  const body = res.headers.get('content-type')?.includes('application/json') ? await res.json() : await res.text();
  if (!res.ok) {
    const message = typeof body === 'object' && body?.error ? body.error : `HTTP ${res.status}`;
    if (!quiet) showError(message);
    throw new ApiError(res.status, message);
  }
  return body;
}

const moneyFormats = new Map();
/** Minor units (cents) of `currency` formatted as money in the browser's locale, e.g. 123456 USD → "$1,234.56". */
export function formatMoney(minor, currency) {
  if (minor === null || minor === undefined || Number.isNaN(Number(minor))) return '–';
  let f = moneyFormats.get(currency);
  if (!f) {
    f = new Intl.NumberFormat(undefined, { style: 'currency', currency });
    moneyFormats.set(currency, f);
  }
  const digits = f.resolvedOptions().maximumFractionDigits;
  return f.format(Number(minor) / 10 ** digits);
}

const dayFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeZone: 'UTC' });
const instantFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });
/** An ISO day (YYYY-MM-DD, UTC) in the browser's locale, e.g. "Mar 5, 2026". */
export function formatDate(day) {
  if (!day) return '–';
  const d = new Date(`${String(day).slice(0, 10)}T00:00:00Z`);
  return Number.isNaN(d.getTime()) ? String(day) : dayFormat.format(d);
}
/** Epoch milliseconds or an ISO instant in the browser's locale and time zone. */
export function formatInstant(t) {
  const d = new Date(t);
  return Number.isNaN(d.getTime()) ? String(t) : instantFormat.format(d);
}
const numberFormat = new Intl.NumberFormat(undefined, { maximumFractionDigits: 2 });
/** A plain number in the browser's locale (at most 2 decimals). */
export function formatNumber(n) {
  return n === null || n === undefined || Number.isNaN(Number(n)) ? '–' : numberFormat.format(Number(n));
}

/** `document.createElement` with attributes (`dataset` keys too: `{'data-testid': 'x'}`) and children. */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') node.className = v;
    else if (k.startsWith('on') && typeof v === 'function') node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) if (c !== null && c !== undefined) node.append(c instanceof Node ? c : String(c));
  return node;
}

/**
 * A date range picker: two date inputs (ISO days) and an Apply button; `onChange({from, to})` when applied.
 * data-testid: `range-from`, `range-to`, `range-apply`.
 */
export function dateRangePicker({ from, to, onChange }) {
  const f = el('input', { type: 'date', value: from ?? '', 'data-testid': 'range-from' });
  const t = el('input', { type: 'date', value: to ?? '', 'data-testid': 'range-to' });
  const apply = el('button', { type: 'button', 'data-testid': 'range-apply' }, 'Apply');
  apply.addEventListener('click', () => onChange({ from: f.value || undefined, to: t.value || undefined }));
  return el('span', { class: 'range-picker' }, el('label', {}, 'From ', f), el('label', {}, ' to ', t), ' ', apply);
}

/** Parses `#/<page>/<param>?a=b` into `{ page, params: [..], query: {..} }`. */
export function parseHash(hash) {
  const raw = hash.replace(/^#\/?/, '');
  const [pathPart, queryPart = ''] = raw.split('?');
  // A hand-typed '%' that is not percent-encoding (#/customer/100%off) stays as typed instead of throwing URIError.
  const decode = (s) => {
    try {
      return decodeURIComponent(s);
    } catch {
      return s;
    }
  };
  const parts = pathPart.split('/').filter(Boolean).map(decode);
  const page = PAGES.some((p) => p.id === parts[0]) ? parts[0] : 'overview';
  return { page, params: parts.slice(1), query: Object.fromEntries(new URLSearchParams(queryPart)) };
}

/** Goes to a page: `navigate('customer', ['C1'], { as_of: '2026-01-01' })`. */
export function navigate(page, params = [], query = {}) {
  const q = new URLSearchParams(Object.entries(query).filter(([, v]) => v !== undefined && v !== '')).toString();
  location.hash = `#/${[page, ...params.map(encodeURIComponent)].join('/')}${q ? `?${q}` : ''}`;
}

let session = null;
let cleanup = null;

async function route() {
  const { page, params, query } = parseHash(location.hash);
  errorBox().hidden = true;
  for (const a of document.querySelectorAll('#nav a')) a.classList.toggle('active', a.dataset.page === page);
  if (typeof cleanup === 'function') cleanup();
  cleanup = null;
  const root = document.getElementById('page');
  root.replaceChildren();
  root.dataset.page = page;
  root.setAttribute('aria-busy', 'true');
  try {
    const module = await import(`/pages/${page}.js`);
    const ctx = {
      api,
      formatMoney,
      formatDate,
      formatInstant,
      formatNumber,
      el,
      echarts,
      dateRangePicker,
      navigate,
      showError,
      params,
      query,
      role: session?.role,
      currency: session?.currency,
    };
    cleanup = (await module.render(root, ctx)) ?? null;
  } catch (err) {
    if (!(err instanceof ApiError)) showError(`This page failed: ${err.message}`);
  } finally {
    root.setAttribute('aria-busy', 'false');
  }
}

async function start() {
  const nav = document.getElementById('nav');
  for (const p of PAGES)
    nav.append(el('a', { href: `#/${p.id}`, 'data-page': p.id, 'data-testid': `nav-${p.id}` }, p.title));
  document.getElementById('logout').addEventListener('click', async () => {
    await fetch('/api/v1/session', { method: 'DELETE', credentials: 'same-origin' });
    location.assign('/login.html');
  });
  try {
    session = await api('/api/v1/session');
  } catch {
    return; // 401: on the way to the login page
  }
  document.getElementById('role').textContent = session.role;
  window.addEventListener('hashchange', route);
  await route();
}

start();
