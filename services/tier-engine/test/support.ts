/**
 * Fakes shared by the engine's unit tests: a serde that writes JSON (no registry), short topic names, one partition,
 * no cut-point recomputes and a fixed wall clock (42 ms). Spread into the test's EngineDeps.
 */
export const engineFakes = {
  serde: {
    encodeIfCached: () => undefined,
    cachedSchemaId: () => undefined,
    encode: async (_topic: string, value: unknown) => Buffer.from(JSON.stringify(value)),
  },
  topics: { transitions: 't', changes: 'c', snapshots: 's', cutpoints: 'cutpoints' },
  cutPointsEveryDays: 0,
  numPartitions: 1,
  wallClock: () => 42,
};
