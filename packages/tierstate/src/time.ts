/** UTC day arithmetic shared by every component: a day is floor(epoch ms / 86 400 000). */
export const DAY_MS = 86_400_000;
export const dayOf = (ms: number): number => Math.floor(ms / DAY_MS);
/** The last millisecond of a UTC day: evaluations "as of day D" happen at this instant. */
export const endOfDay = (day: number): number => (day + 1) * DAY_MS - 1;
export const isoDay = (day: number): string => new Date(day * DAY_MS).toISOString().slice(0, 10);
