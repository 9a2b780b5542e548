// Typed search attributes that make runs findable in Temporal Web and `bluegreen history`.
// The dev server must be started with `--search-attribute NAME=Keyword` for each (see README).
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

export const ENVIRONMENT = defineSearchAttributeKey('BgEnvironment', SearchAttributeType.KEYWORD);
export const RELEASE = defineSearchAttributeKey('BgRelease', SearchAttributeType.KEYWORD);
export const FROM_RELEASE = defineSearchAttributeKey('BgFromRelease', SearchAttributeType.KEYWORD);
export const STEP = defineSearchAttributeKey('BgStep', SearchAttributeType.KEYWORD);
export const OUTCOME = defineSearchAttributeKey('BgOutcome', SearchAttributeType.KEYWORD);

/** Name → CLI type, for `temporal server start-dev --search-attribute` and `operator search-attribute create`. */
export const SEARCH_ATTRIBUTE_DECLARATIONS: Record<string, 'Keyword'> = {
  BgEnvironment: 'Keyword',
  BgRelease: 'Keyword',
  BgFromRelease: 'Keyword',
  BgStep: 'Keyword',
  BgOutcome: 'Keyword',
};
