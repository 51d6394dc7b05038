DROP INDEX "registrations_created_idx";--> statement-breakpoint
CREATE INDEX "registrations_environment_idx" ON "registrations" USING btree ("environment");--> statement-breakpoint
CREATE INDEX "registrations_created_idx" ON "registrations" USING btree ("created_at","id");