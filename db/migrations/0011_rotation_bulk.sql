ALTER TABLE "rotations" ADD COLUMN "bulk_id" uuid;--> statement-breakpoint
CREATE INDEX "rotations_bulk_idx" ON "rotations" USING btree ("bulk_id") WHERE "rotations"."bulk_id" is not null;