CREATE TABLE "expiry_states" (
	"registration_id" uuid NOT NULL,
	"credential_kind" text NOT NULL,
	"state" text NOT NULL,
	"threshold_days" integer,
	"expires_at" timestamp with time zone,
	"changed_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "expiry_states_registration_id_credential_kind_pk" PRIMARY KEY("registration_id","credential_kind")
);
--> statement-breakpoint
CREATE TABLE "notification_deliveries" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"kind" text NOT NULL,
	"event_key" text NOT NULL,
	"payload" jsonb NOT NULL,
	"destination" text,
	"status" text DEFAULT 'pending' NOT NULL,
	"attempts" integer DEFAULT 0 NOT NULL,
	"next_attempt_at" timestamp with time zone DEFAULT now() NOT NULL,
	"last_status" integer,
	"last_error" text,
	"delivered_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "rotations" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"registration_id" uuid NOT NULL,
	"strategy" text NOT NULL,
	"fallback_from" text,
	"state" text DEFAULT 'planned' NOT NULL,
	"trigger" text NOT NULL,
	"attempt" integer DEFAULT 0 NOT NULL,
	"next_attempt_at" timestamp with time zone,
	"error" jsonb,
	"plan" jsonb NOT NULL,
	"old_credential_id" uuid,
	"new_credential_id" uuid,
	"old_app_key_id" uuid,
	"new_app_key_id" uuid,
	"new_registration_id" uuid,
	"new_expiry" jsonb,
	"register_attempt" integer DEFAULT 1 NOT NULL,
	"put_started_at" timestamp with time zone,
	"verified_by" text,
	"cleanup_at" timestamp with time zone,
	"cleanup_done_at" timestamp with time zone,
	"cleanup_error" text,
	"created_by" text,
	"finished_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "registrations" ADD COLUMN "rotation_policy" text DEFAULT 'manual' NOT NULL;--> statement-breakpoint
ALTER TABLE "registrations" ADD COLUMN "replaced_by_registration_id" uuid;--> statement-breakpoint
ALTER TABLE "registrations" ADD COLUMN "replaces_registration_id" uuid;--> statement-breakpoint
ALTER TABLE "registrations" ADD COLUMN "retiring_until" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "registrations" ADD COLUMN "renew_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "registrations" ADD COLUMN "renew_basis_kind" text;--> statement-breakpoint
ALTER TABLE "registrations" ADD COLUMN "renew_basis_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "expiry_states" ADD CONSTRAINT "expiry_states_registration_id_registrations_id_fk" FOREIGN KEY ("registration_id") REFERENCES "public"."registrations"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "rotations" ADD CONSTRAINT "rotations_registration_id_registrations_id_fk" FOREIGN KEY ("registration_id") REFERENCES "public"."registrations"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "notification_deliveries_event_key" ON "notification_deliveries" USING btree ("event_key");--> statement-breakpoint
CREATE INDEX "notification_deliveries_pending_idx" ON "notification_deliveries" USING btree ("next_attempt_at") WHERE "notification_deliveries"."status" = 'pending';--> statement-breakpoint
CREATE INDEX "notification_deliveries_created_idx" ON "notification_deliveries" USING btree ("created_at");--> statement-breakpoint
CREATE UNIQUE INDEX "rotations_one_active_key" ON "rotations" USING btree ("registration_id") WHERE "rotations"."state" not in ('current', 'failed');--> statement-breakpoint
CREATE INDEX "rotations_registration_idx" ON "rotations" USING btree ("registration_id","created_at");--> statement-breakpoint
CREATE INDEX "rotations_retry_idx" ON "rotations" USING btree ("next_attempt_at") WHERE "rotations"."state" not in ('current', 'failed');--> statement-breakpoint
CREATE INDEX "rotations_cleanup_idx" ON "rotations" USING btree ("cleanup_at") WHERE "rotations"."state" = 'current' and "rotations"."cleanup_done_at" is null and "rotations"."cleanup_at" is not null;--> statement-breakpoint
CREATE INDEX "registrations_renew_due_idx" ON "registrations" USING btree ("rotation_policy","renew_at") WHERE "registrations"."status" = 'active' and "registrations"."replaced_by_registration_id" is null and "registrations"."renew_at" is not null;--> statement-breakpoint
CREATE INDEX "registrations_renew_stale_idx" ON "registrations" USING btree ("id") WHERE "registrations"."renew_basis_kind" is distinct from "registrations"."secret_expiry_kind" or "registrations"."renew_basis_at" is distinct from "registrations"."secret_expires_at";