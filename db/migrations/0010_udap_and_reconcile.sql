CREATE TABLE "app_certificates" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"app_id" uuid NOT NULL,
	"environment" text NOT NULL,
	"app_key_id" uuid NOT NULL,
	"chain_pem" text NOT NULL,
	"chain_length" integer NOT NULL,
	"subject" text NOT NULL,
	"issuer" text NOT NULL,
	"san_uris" text[] NOT NULL,
	"serial_number" text NOT NULL,
	"not_before" timestamp with time zone NOT NULL,
	"not_after" timestamp with time zone NOT NULL,
	"fingerprint_sha256" text NOT NULL,
	"state" text DEFAULT 'active' NOT NULL,
	"created_by" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"retired_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "registration_operation_resolutions" (
	"operation_id" uuid PRIMARY KEY NOT NULL,
	"outcome" text NOT NULL,
	"client_id" text,
	"note" text,
	"resolved_by" text NOT NULL,
	"resolved_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "app_certificates" ADD CONSTRAINT "app_certificates_app_id_apps_id_fk" FOREIGN KEY ("app_id") REFERENCES "public"."apps"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "app_certificates" ADD CONSTRAINT "app_certificates_app_key_id_app_keys_id_fk" FOREIGN KEY ("app_key_id") REFERENCES "public"."app_keys"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "registration_operation_resolutions" ADD CONSTRAINT "registration_operation_resolutions_operation_id_registration_operations_id_fk" FOREIGN KEY ("operation_id") REFERENCES "public"."registration_operations"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "app_certificates_one_active_key" ON "app_certificates" USING btree ("app_id","environment") WHERE "app_certificates"."state" = 'active';--> statement-breakpoint
CREATE UNIQUE INDEX "app_certificates_app_key_key" ON "app_certificates" USING btree ("app_key_id");