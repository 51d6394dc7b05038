/** SMART App Launch scope catalogues and the discovery documents the sandbox hospitals publish. */

const CONTEXTS = ['patient', 'user', 'system'] as const;
const RESOURCES = [
  'Patient',
  'Observation',
  'Condition',
  'MedicationRequest',
  'AllergyIntolerance',
  'Immunization',
  'Encounter',
  'DocumentReference',
] as const;

export const LAUNCH_AND_IDENTITY_SCOPES = [
  'openid',
  'fhirUser',
  'profile',
  'launch',
  'launch/patient',
  'launch/encounter',
  'offline_access',
  'online_access',
] as const;

/** SMART v1: `<context>/<type>.(read|write|*)`. */
export const SMART_V1_SCOPES: readonly string[] = CONTEXTS.flatMap((c) => [
  `${c}/*.read`,
  `${c}/*.write`,
  `${c}/*.*`,
  ...RESOURCES.flatMap((r) => [`${c}/${r}.read`, `${c}/${r}.write`]),
]);

/** SMART v2: `<context>/<type>.<cruds subset>`. */
export const SMART_V2_SCOPES: readonly string[] = CONTEXTS.flatMap((c) => [
  `${c}/*.rs`,
  `${c}/*.r`,
  `${c}/*.s`,
  `${c}/*.cruds`,
  ...RESOURCES.flatMap((r) => [`${c}/${r}.rs`, `${c}/${r}.r`, `${c}/${r}.cruds`]),
]);

/** SMART 2.2 §scopes: the v1 grammar, which a v2-only server must refuse. */
export function isSmartV1Scope(scope: string): boolean {
  return /^(patient|user|system)\/([A-Za-z]+|\*)\.(read|write|\*)$/.test(scope);
}

export type SmartConfigurationInput = {
  issuer?: string;
  jwksUri?: string;
  authorizationEndpoint: string;
  tokenEndpoint: string;
  registrationEndpoint?: string;
  managementEndpoint?: string;
  introspectionEndpoint?: string;
  revocationEndpoint?: string;
  grantTypes: readonly string[];
  capabilities: readonly string[];
  scopes: readonly string[];
  authMethods: readonly string[];
  signingAlgs?: readonly string[];
};

/** SMART App Launch 2.2 `.well-known/smart-configuration`; optional members are omitted, never null. */
export function smartConfiguration(input: SmartConfigurationInput): Record<string, unknown> {
  const doc: Record<string, unknown> = {};
  if (input.issuer) doc.issuer = input.issuer;
  if (input.jwksUri) doc.jwks_uri = input.jwksUri;
  doc.authorization_endpoint = input.authorizationEndpoint;
  doc.token_endpoint = input.tokenEndpoint;
  if (input.registrationEndpoint) doc.registration_endpoint = input.registrationEndpoint;
  if (input.managementEndpoint) doc.management_endpoint = input.managementEndpoint;
  if (input.introspectionEndpoint) doc.introspection_endpoint = input.introspectionEndpoint;
  if (input.revocationEndpoint) doc.revocation_endpoint = input.revocationEndpoint;
  doc.grant_types_supported = [...input.grantTypes];
  doc.token_endpoint_auth_methods_supported = [...input.authMethods];
  if (input.signingAlgs) doc.token_endpoint_auth_signing_alg_values_supported = [...input.signingAlgs];
  doc.scopes_supported = [...input.scopes];
  doc.response_types_supported = ['code'];
  doc.code_challenge_methods_supported = ['S256'];
  doc.capabilities = [...input.capabilities];
  return doc;
}

export type OAuthUris = {
  authorize: string;
  token: string;
  register?: string;
  manage?: string;
  introspect?: string;
  revoke?: string;
};

const OAUTH_URIS = 'http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris';

/** A FHIR R4 CapabilityStatement carrying the SMART (v1) oauth-uris security extension. */
export function capabilityStatement(input: {
  fhirBase: string;
  name: string;
  software: string;
  oauth: OAuthUris;
}): Record<string, unknown> {
  const uris = Object.entries(input.oauth)
    .filter((entry): entry is [string, string] => typeof entry[1] === 'string')
    .map(([url, valueUri]) => ({ url, valueUri }));
  return {
    resourceType: 'CapabilityStatement',
    status: 'active',
    date: '2025-01-01',
    kind: 'instance',
    publisher: input.name,
    software: { name: input.software, version: '1.0.0' },
    implementation: { description: input.name, url: input.fhirBase },
    fhirVersion: '4.0.1',
    format: ['application/fhir+json', 'json'],
    rest: [
      {
        mode: 'server',
        security: {
          extension: [{ url: OAUTH_URIS, extension: uris }],
          service: [
            {
              coding: [
                {
                  system: 'http://terminology.hl7.org/CodeSystem/restful-security-service',
                  code: 'SMART-on-FHIR',
                },
              ],
              text: 'OAuth2 using SMART-on-FHIR profile (see http://docs.smarthealthit.org)',
            },
          ],
        },
        resource: RESOURCES.map((type) => ({
          type,
          interaction: [{ code: 'read' }, { code: 'search-type' }],
        })),
      },
    ],
  };
}

export const FHIR_JSON = 'application/fhir+json; charset=utf-8';

/** A FHIR OperationOutcome for paths the sandbox does not serve. */
export function notFoundOutcome(path: string): Record<string, unknown> {
  return {
    resourceType: 'OperationOutcome',
    issue: [{ severity: 'error', code: 'not-found', diagnostics: `the sandbox does not serve ${path}` }],
  };
}
