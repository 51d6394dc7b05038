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
  findClosestRegisteredUri,
  type ClosestRegisteredUri,
  type HighlightKind,
  type HighlightSegment,
  type MismatchCode,
  type MismatchFinding,
  type RedirectComparison,
} from './compare';
export { isValidPort, splitUri, type SplitUri } from './split';
