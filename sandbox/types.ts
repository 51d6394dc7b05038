export type HospitalKey = 'general' | 'mercy' | 'epic';

export type HospitalInfo = {
  key: HospitalKey;
  name: string;
  /** Scheme, host and port, e.g. `http://127.0.0.1:4401`. */
  origin: string;
  /** The authorization server's issuer identifier, exactly as its discovery document states it. */
  issuer: string;
  fhirBase: string;
  registrationEndpoint: string;
};
