CREATE TABLE "app_keys" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"app_id" uuid NOT NULL,
	"environment" text NOT NULL,
	"purpose" text NOT NULL,
	"kid" text NOT NULL,
	"alg" text NOT NULL,
	"public_jwk" jsonb NOT NULL,
	"state" text DEFAULT 'active' NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"retired_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "app_versions" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"app_id" uuid NOT NULL,
	"version" integer NOT NULL,
	"profile" jsonb NOT NULL,
	"created_by" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "apps" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"name" text NOT NULL,
	"software_id" text NOT NULL,
	"current_version" integer DEFAULT 1 NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "registration_operations" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"idempotency_key" text NOT NULL,
	"request_hash" text NOT NULL,
	"status" text DEFAULT 'pending' NOT NULL,
	"issuer_id" uuid NOT NULL,
	"app_id" uuid NOT NULL,
	"environment" text NOT NULL,
	"request" jsonb NOT NULL,
	"registration_id" uuid,
	"error" jsonb,
	"created_by" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "registrations" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"issuer_id" uuid NOT NULL,
	"app_id" uuid NOT NULL,
	"app_version" integer NOT NULL,
	"environment" text NOT NULL,
	"status" text DEFAULT 'active' NOT NULL,
	"client_id" text NOT NULL,
	"auth_method" text NOT NULL,
	"managed" boolean DEFAULT false NOT NULL,
	"registration_client_uri" text,
	"requested_metadata" jsonb NOT NULL,
	"registered_metadata" jsonb NOT NULL,
	"client_id_issued_at" timestamp with time zone,
	"secret_expiry_kind" text NOT NULL,
	"secret_expires_at" timestamp with time zone,
	"app_key_id" uuid,
	"warnings" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"operation_id" uuid,
	"created_by" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "app_keys" ADD CONSTRAINT "app_keys_app_id_apps_id_fk" FOREIGN KEY ("app_id") REFERENCES "public"."apps"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "app_versions" ADD CONSTRAINT "app_versions_app_id_apps_id_fk" FOREIGN KEY ("app_id") REFERENCES "public"."apps"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "registrations" ADD CONSTRAINT "registrations_issuer_id_issuers_id_fk" FOREIGN KEY ("issuer_id") REFERENCES "public"."issuers"("id") ON DELETE restrict ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "registrations" ADD CONSTRAINT "registrations_app_id_apps_id_fk" FOREIGN KEY ("app_id") REFERENCES "public"."apps"("id") ON DELETE restrict ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "registrations" ADD CONSTRAINT "registrations_app_key_id_app_keys_id_fk" FOREIGN KEY ("app_key_id") REFERENCES "public"."app_keys"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "app_keys_kid_key" ON "app_keys" USING btree ("app_id","kid");--> statement-breakpoint
CREATE INDEX "app_keys_lookup_idx" ON "app_keys" USING btree ("app_id","environment","purpose","state");--> statement-breakpoint
CREATE UNIQUE INDEX "app_versions_app_version_key" ON "app_versions" USING btree ("app_id","version");--> statement-breakpoint
CREATE UNIQUE INDEX "apps_software_id_key" ON "apps" USING btree ("software_id");--> statement-breakpoint
CREATE UNIQUE INDEX "apps_name_key" ON "apps" USING btree (lower("name"));--> statement-breakpoint
CREATE UNIQUE INDEX "registration_operations_key" ON "registration_operations" USING btree ("idempotency_key");--> statement-breakpoint
CREATE INDEX "registration_operations_status_idx" ON "registration_operations" USING btree ("status");--> statement-breakpoint
CREATE UNIQUE INDEX "registrations_issuer_client_key" ON "registrations" USING btree ("issuer_id","client_id");--> statement-breakpoint
CREATE INDEX "registrations_expiry_idx" ON "registrations" USING btree ("secret_expires_at");--> statement-breakpoint
CREATE INDEX "registrations_issuer_idx" ON "registrations" USING btree ("issuer_id");