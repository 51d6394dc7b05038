// Public surface of the redirect URI library. Pure and browser-safe (no `server-only`).
export {
  validateRedirectUri,
  validateRedirectUris,
  type RedirectFinding,
  type RedirectFindingCode,
  type RedirectValidationOptions,
} from './validate';
export {
  compareRedirectUri,
  createDiffBudget,
  DIFF_BUDGET_CELLS,
  findClosestRegisteredUri,
  type ClosestRegisteredUri,
  type ComparatorOptions,
  type DiffBudget,
  type HighlightKind,
  type HighlightSegment,
  type MismatchCode,
  type MismatchFinding,
  type RedirectComparison,
} from './compare';
export { isValidPort, splitUri, type SplitUri } from './split';
