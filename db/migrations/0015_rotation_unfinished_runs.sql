ALTER TABLE "rotations" ADD COLUMN "unfinished_runs" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "rotations" ADD COLUMN "stalled_at" timestamp with time zone;