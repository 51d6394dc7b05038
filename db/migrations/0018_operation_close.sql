ALTER TABLE "registration_operation_resolutions" ADD COLUMN "closed_by" text;--> statement-breakpoint
ALTER TABLE "registration_operation_resolutions" ADD COLUMN "closed_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "registration_operation_resolutions" ADD COLUMN "close_note" text;