// Public surface of the SMART scope library. Pure and browser-safe (no `server-only`).
export {
  COMMON_FHIR_RESOURCES,
  SMART_NON_RESOURCE_SCOPES,
  expandToAtoms,
  formatScope,
  parseScope,
  parseScopeString,
  type FormatScopeInput,
  type ParsedScope,
  type ScopeContext,
  type ScopeInteraction,
  type ScopeVersion,
} from './scopes';
export { diffScopes, unsupportedScopes, type ScopeDiff } from './scope-diff';
export { advertisedScopeVersions, scopesInUnadvertisedVersion, type AdvertisedScopeVersions, type ScopeVersionMismatch } from './scope-versions';
export { validateScopeString, type ScopeFinding, type ScopeFindingCode } from './validate-scopes';
