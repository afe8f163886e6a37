import { env } from '@tierstream/config';
import type { z } from 'zod';
import { INPUT_TOPICS, type InputEvent, type InputTopic, TOPICS, topicOf } from './types';

/**
 * Where each kind of input event is read from: ORDERS_TOPIC, WEB_BEHAVIOR_TOPIC, TICKETS_TOPIC (defaults: the
 * contract names orders.v1, web-behavior.v1, tickets.v1). Renaming a topic changes nothing else: its records must
 * still be the contract's Avro (registered under `<topic>-value`), and its dead letters go to `<topic>.dlq`.
 */
export const inputTopicSettings = {
  ORDERS_TOPIC: env.topic(TOPICS.orders),
  WEB_BEHAVIOR_TOPIC: env.topic(TOPICS.web),
  TICKETS_TOPIC: env.topic(TOPICS.tickets),
};

export interface InputTopicSettings {
  ORDERS_TOPIC: string;
  WEB_BEHAVIOR_TOPIC: string;
  TICKETS_TOPIC: string;
}

/** The configured topic name of each contract input topic (e.g. `orders.v1` → `shop.orders`). */
export type InputTopicNames = Readonly<Record<InputTopic, string>>;

/** Every input topic under its contract name. */
export const DEFAULT_INPUT_TOPIC_NAMES: InputTopicNames = Object.freeze({
  [TOPICS.orders]: TOPICS.orders,
  [TOPICS.web]: TOPICS.web,
  [TOPICS.tickets]: TOPICS.tickets,
});

/** The configured names of a validated configuration. */
export function inputTopicNames(settings: InputTopicSettings): InputTopicNames {
  return {
    [TOPICS.orders]: settings.ORDERS_TOPIC,
    [TOPICS.web]: settings.WEB_BEHAVIOR_TOPIC,
    [TOPICS.tickets]: settings.TICKETS_TOPIC,
  };
}

/** The configured input topics, in contract order (orders, web behaviour, tickets). */
export function configuredInputTopics(names: InputTopicNames): string[] {
  return INPUT_TOPICS.map((t) => names[t]);
}

/** The contract topic (orders.v1, ...) whose events a configured topic carries; undefined when none. */
export function contractTopicOf(names: InputTopicNames, topic: string): InputTopic | undefined {
  return INPUT_TOPICS.find((t) => names[t] === topic);
}

/** The configured topic an input event is published to. */
export function configuredTopicOf(names: InputTopicNames, input: InputEvent): string {
  return names[topicOf(input)];
}

/**
 * Cross-field checks for a config schema's superRefine: the three input topic names are distinct, and every topic of
 * the list setting `listKey` (AGGREGATOR_TOPICS, INPUT_TOPICS), if given, is one of them. Issues name the setting.
 */
export function checkInputTopicSettings(
  value: InputTopicSettings & Record<string, unknown>,
  ctx: z.RefinementCtx,
  listKey?: string,
): void {
  const named = Object.entries({
    ORDERS_TOPIC: value.ORDERS_TOPIC,
    WEB_BEHAVIOR_TOPIC: value.WEB_BEHAVIOR_TOPIC,
    TICKETS_TOPIC: value.TICKETS_TOPIC,
  });
  for (const [i, [key, topic]] of named.entries()) {
    const same = named.slice(0, i).find(([, t]) => t === topic);
    if (same) ctx.addIssue({ code: 'custom', path: [key], message: `${topic} is already ${same[0]}` });
  }
  const list = listKey === undefined ? undefined : value[listKey];
  if (!Array.isArray(list)) return;
  const known = named.map(([, t]) => t);
  const unknown = (list as string[]).filter((t) => !known.includes(t));
  if (unknown.length > 0)
    ctx.addIssue({
      code: 'custom',
      path: [listKey!],
      message: `${unknown.join(', ')} ${unknown.length === 1 ? 'is' : 'are'} not an input topic (${named
        .map(([k, t]) => `${k}=${t}`)
        .join(', ')})`,
    });
}
