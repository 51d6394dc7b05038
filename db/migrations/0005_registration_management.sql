ALTER TABLE "registrations" ADD COLUMN "server_metadata" jsonb;--> statement-breakpoint
ALTER TABLE "registrations" ADD COLUMN "last_checked_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "registrations" ADD COLUMN "attention_reason" text;--> statement-breakpoint
ALTER TABLE "registrations" ADD COLUMN "last_rotated_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "registrations" ADD COLUMN "deleted_at" timestamp with time zone;