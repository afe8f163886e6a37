import type { TierTransition } from '@tierstream/contracts';
import type { TransitionFilter } from './spec';

/**
 * True when `t` passes `filter`: every listed criterion holds (AND), any value of a list may match (OR).
 * `entered` and `left` together pass a transition that moves into one of `entered` OR out of one of `left`
 * (an ENTER transition has no `from_tier`, so it can only match `entered`). `exclude_reasons` drops a reason even
 * when `reasons` lists it. An empty filter passes everything.
 */
export function passesFilter(filter: TransitionFilter, t: TierTransition): boolean {
  if (filter.dimensions && !filter.dimensions.includes(t.dimension)) return false;
  if (filter.directions && !filter.directions.includes(t.direction)) return false;
  if (filter.reasons && !filter.reasons.includes(t.reason)) return false;
  if (filter.exclude_reasons?.includes(t.reason)) return false;
  if (filter.entered || filter.left) {
    const entered = filter.entered?.includes(t.to_tier) ?? false;
    const left = t.from_tier !== null && (filter.left?.includes(t.from_tier) ?? false);
    if (!entered && !left) return false;
  }
  return true;
}
