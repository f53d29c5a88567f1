import type { SegmentStep } from '../../authPolicy/types';

/** The step that takes any one non-empty segment. */
export const PARAM: SegmentStep = { kind: 'param' };

/** The step that takes a run of segments. */
export const WILDCARD: SegmentStep = { kind: 'wildcard' };

/** Segment steps written briefly: a string is a literal segment. */
export const toSteps = (items: ReadonlyArray<string | SegmentStep>): SegmentStep[] =>
  items.map(item => (typeof item === 'string' ? { kind: 'literal', value: item } : item));
