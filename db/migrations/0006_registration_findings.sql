ALTER TABLE "registrations" ADD COLUMN "redirect_finding_count" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "registrations" ADD COLUMN "scope_lost_count" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
CREATE INDEX "registrations_status_expiry_idx" ON "registrations" USING btree ("status","secret_expires_at");--> statement-breakpoint
CREATE INDEX "registrations_created_idx" ON "registrations" USING btree ("created_at");