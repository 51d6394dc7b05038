import 'server-only';

/**
 * Credential rotation: a durable state machine per rotation (table `rotations`), four strategies
 * chosen per issuer and registration (RFC 7592 update, re-registration, key rollover, new
 * registration with an initial access token), the scheduled scan and the clean-ups after a switch.
 */
export { planRotation, STRATEGY_LABELS, type RotationPlan } from './plan';
export { abandonRotation, confirmRotationVerified, resumeRotation, retryRotation, rotateMany, startRotation, supplyInitialAccessToken, type RotationDeps, type RotationStep, type StartRotationResult } from './run';
export { runRotationScan, dueForRenewal, type ScanResult } from './scan';
export { runRotationCleanup } from './cleanup';
export { getRotation, getRotationPanel, resolveActiveRegistration, type RotationPanel } from './queries';
export { setRotationPolicy } from './policy';
export { setRotationOverrides } from './settings';
export { computeRenewal } from './renewal';
export type { RotationView } from './view';
