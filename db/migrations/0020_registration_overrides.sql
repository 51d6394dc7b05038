ALTER TABLE "registrations" ADD COLUMN "registration_overrides" jsonb;--> statement-breakpoint
ALTER TABLE "registrations" ADD COLUMN "software_statement_mode" text;