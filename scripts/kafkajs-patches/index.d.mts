/** One kafkajs file's exact 2.2.4 text and the text scripts/patch-kafkajs.mjs writes instead. */
export interface KafkajsPatch {
  /** Path relative to kafkajs' package root, e.g. `src/protocol/requests/produce/v3/request.js`. */
  readonly FILE: string;
  readonly ORIGINAL: string;
  readonly PATCHED: string;
}
export declare const PATCHES: ReadonlyArray<KafkajsPatch>;
