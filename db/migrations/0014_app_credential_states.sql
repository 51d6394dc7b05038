CREATE TABLE "app_credential_states" (
	"subject_type" text NOT NULL,
	"subject_id" uuid NOT NULL,
	"state" text NOT NULL,
	"threshold_days" integer,
	"expires_at" timestamp with time zone,
	"changed_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "app_credential_states_subject_type_subject_id_pk" PRIMARY KEY("subject_type","subject_id")
);
