CREATE TABLE "bulk_operations" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"kind" text NOT NULL,
	"status" text DEFAULT 'queued' NOT NULL,
	"total" integer DEFAULT 0 NOT NULL,
	"succeeded" integer DEFAULT 0 NOT NULL,
	"failed" integer DEFAULT 0 NOT NULL,
	"created_by" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"finished_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "discovery_runs" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"issuer_id" uuid NOT NULL,
	"trigger" text NOT NULL,
	"outcome" text NOT NULL,
	"started_at" timestamp with time zone NOT NULL,
	"finished_at" timestamp with time zone DEFAULT now() NOT NULL,
	"result" jsonb NOT NULL,
	"changes" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"needs_attention" boolean DEFAULT false NOT NULL
);
--> statement-breakpoint
CREATE TABLE "health_systems" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"name" text NOT NULL,
	"notes" text,
	"contacts" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"tags" text[] DEFAULT '{}'::text[] NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "issuers" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"health_system_id" uuid NOT NULL,
	"environment" text NOT NULL,
	"input_url" text NOT NULL,
	"issuer_url" text,
	"fhir_base_url" text,
	"epic_client_id" text,
	"endpoints" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"scopes_supported" text[] DEFAULT '{}'::text[] NOT NULL,
	"grant_types_supported" text[] DEFAULT '{}'::text[] NOT NULL,
	"response_types_supported" text[] DEFAULT '{}'::text[] NOT NULL,
	"token_endpoint_auth_methods_supported" text[] DEFAULT '{}'::text[] NOT NULL,
	"token_endpoint_auth_signing_alg_values_supported" text[] DEFAULT '{}'::text[] NOT NULL,
	"code_challenge_methods_supported" text[] DEFAULT '{}'::text[] NOT NULL,
	"capabilities" text[] DEFAULT '{}'::text[] NOT NULL,
	"documents_found" text[] DEFAULT '{}'::text[] NOT NULL,
	"warnings" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"last_discovered_at" timestamp with time zone,
	"last_error" jsonb,
	"needs_attention" boolean DEFAULT false NOT NULL,
	"attention_reason" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "discovery_runs" ADD CONSTRAINT "discovery_runs_issuer_id_issuers_id_fk" FOREIGN KEY ("issuer_id") REFERENCES "public"."issuers"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "issuers" ADD CONSTRAINT "issuers_health_system_id_health_systems_id_fk" FOREIGN KEY ("health_system_id") REFERENCES "public"."health_systems"("id") ON DELETE restrict ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "bulk_operations_one_active_key" ON "bulk_operations" USING btree ("kind") WHERE "bulk_operations"."status" in ('queued', 'running');--> statement-breakpoint
CREATE INDEX "discovery_runs_issuer_idx" ON "discovery_runs" USING btree ("issuer_id","finished_at");--> statement-breakpoint
CREATE UNIQUE INDEX "health_systems_name_key" ON "health_systems" USING btree (lower("name"));--> statement-breakpoint
CREATE UNIQUE INDEX "issuers_input_url_key" ON "issuers" USING btree ("input_url");--> statement-breakpoint
CREATE UNIQUE INDEX "issuers_issuer_url_key" ON "issuers" USING btree ("issuer_url");--> statement-breakpoint
CREATE INDEX "issuers_health_system_idx" ON "issuers" USING btree ("health_system_id");