CREATE TABLE "credentials" (
	"id" uuid PRIMARY KEY NOT NULL,
	"owner_type" text NOT NULL,
	"owner_id" uuid NOT NULL,
	"kind" text NOT NULL,
	"state" text DEFAULT 'current' NOT NULL,
	"version" integer DEFAULT 1 NOT NULL,
	"fingerprint" text NOT NULL,
	"envelope" jsonb NOT NULL,
	"expires_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"retired_at" timestamp with time zone
);
--> statement-breakpoint
CREATE INDEX "credentials_owner_idx" ON "credentials" USING btree ("owner_type","owner_id","kind");--> statement-breakpoint
CREATE UNIQUE INDEX "credentials_one_current_key" ON "credentials" USING btree ("owner_type","owner_id","kind") WHERE "credentials"."state" = 'current';--> statement-breakpoint
CREATE INDEX "credentials_kid_idx" ON "credentials" USING btree (("envelope"->>'kid'),("envelope"->>'kv'));