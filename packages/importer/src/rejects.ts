/**
 * Why a row of an import file became no event. Every row read is either part of an event or one reject with one of
 * these reasons (plus a message naming the value), so nothing is dropped without a line in the reject file.
 */
export const REJECT_REASONS = [
  /** The file parser could not read the row (CSV quoting, wrong number of cells, a line that is not JSON). */
  'MALFORMED_ROW',
  /** The customer column is empty (web: neither customer nor anonymous id). */
  'MISSING_CUSTOMER_ID',
  /** The order or ticket id column is empty. */
  'MISSING_ID',
  /** An id (customer, order, ticket, event) longer than the contracts accept (256 characters). */
  'ID_TOO_LONG',
  /** An amount, quantity or unit price that is not a number in the mapping's locale (e.g. "1,000.00" with decimal ","). */
  'UNPARSABLE_AMOUNT',
  /** An amount too large for the contracts (more than 10^12 minor units) or for exact arithmetic. */
  'AMOUNT_OUT_OF_RANGE',
  /** A negative amount where the mapping does not declare negatives as credits. */
  'NEGATIVE_AMOUNT',
  /** A time that matches none of the mapping's formats, or a date that does not exist (2024-02-30). */
  'UNPARSABLE_TIME',
  /** A time before 1970 or later than the import's `now` (plus one hour). */
  'TIME_OUT_OF_RANGE',
  /** A currency that is not an ISO 4217 code the pipeline knows. */
  'UNKNOWN_CURRENCY',
  /** A status value the mapping's `status.values` does not list. */
  'UNKNOWN_STATUS',
  /** A value of an enum column (web type, ticket type/category/priority) the mapping's `values` does not list. */
  'UNKNOWN_VALUE',
  /** A CSAT that is not an integer in 1..5. */
  'INVALID_CSAT',
  /**
   * Another row of the same order was rejected: an order is produced whole or not at all, so that a re-import of the
   * corrected file produces it (with its stable id) instead of a partial order that the id would then keep.
   */
  'PARTIAL_ORDER',
  /** Rows of one order disagree on its customer or currency: the whole order is rejected. */
  'INCONSISTENT_ORDER',
  /** A credit whose original order is not in the file (unnamed: the customer has no earlier order in the file). */
  'ORIGINAL_ORDER_NOT_FOUND',
  /**
   * A refund larger than its order: a status row whose refund exceeds the order total, a credit larger than what is
   * left of the order it names, or (unnamed) of the customer's earlier orders in the file.
   */
  'REFUND_EXCEEDS_ORDER',
  /** A return, cancellation or credit that happened before its original order was placed. */
  'REVERSAL_BEFORE_ORDER',
] as const;
export type RejectReason = (typeof REJECT_REASONS)[number];

/** One rejected row: its line number in the file (1-based, the header is line 1 of a CSV with a header). */
export interface Reject {
  line: number;
  reason: RejectReason;
  message: string;
}
