ALTER TABLE "issuers" ADD COLUMN "metadata_version" integer DEFAULT 1 NOT NULL;--> statement-breakpoint
-- Kept by the database, whoever writes the row: one more whenever a column a registration request
-- can depend on changes, so a review is voided by different metadata and never by a refresh that
-- only rewrote timestamps (last_discovered_at, last_error, warnings, updated_at).
CREATE OR REPLACE FUNCTION issuers_bump_metadata_version() RETURNS trigger AS $$
BEGIN
  IF (NEW.issuer_url, NEW.fhir_base_url, NEW.epic_client_id, NEW.environment, NEW.endpoints,
      NEW.scopes_supported, NEW.grant_types_supported, NEW.response_types_supported,
      NEW.token_endpoint_auth_methods_supported, NEW.token_endpoint_auth_signing_alg_values_supported,
      NEW.code_challenge_methods_supported, NEW.capabilities, NEW.documents_found)
     IS DISTINCT FROM
     (OLD.issuer_url, OLD.fhir_base_url, OLD.epic_client_id, OLD.environment, OLD.endpoints,
      OLD.scopes_supported, OLD.grant_types_supported, OLD.response_types_supported,
      OLD.token_endpoint_auth_methods_supported, OLD.token_endpoint_auth_signing_alg_values_supported,
      OLD.code_challenge_methods_supported, OLD.capabilities, OLD.documents_found) THEN
    NEW.metadata_version := OLD.metadata_version + 1;
  ELSE
    NEW.metadata_version := OLD.metadata_version;
  END IF;
  RETURN NEW;
END;
$$ LANGUAGE plpgsql;
--> statement-breakpoint
CREATE TRIGGER issuers_metadata_version BEFORE UPDATE ON issuers
  FOR EACH ROW EXECUTE FUNCTION issuers_bump_metadata_version();
