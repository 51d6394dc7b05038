import 'server-only';
// Public surface of the diagnostics domain (server only). Pages use diagnoseAuthorizationRequest
// and the schema helpers; components take the result types as props.
export { diagnoseAuthorizationRequest, looksLikeEpic, EPIC_SYNC_DELAY_MS } from './diagnose';
export { parseAuthorizationRequestUrl, type ParsedAuthorizationRequest } from './parse-request';
export { redirectFindings } from './redirect-findings';
export { diagnosisInputSchema, diagnosisQueryString, parseDiagnoseSearchParams, splitPastedUris, QUERY_KEYS, type DiagnoseFormValues } from './schemas';
export type * from './types';
