ALTER TABLE "api_tokens" ADD COLUMN "created_by_user_id" uuid;--> statement-breakpoint
ALTER TABLE "api_tokens" ADD CONSTRAINT "api_tokens_created_by_user_id_users_id_fk" FOREIGN KEY ("created_by_user_id") REFERENCES "public"."users"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "api_tokens_creator_idx" ON "api_tokens" USING btree ("created_by_user_id");--> statement-breakpoint
-- Tokens made before this column existed name their creator by email (created_by): link them.
UPDATE "api_tokens" t SET "created_by_user_id" = u."id" FROM "users" u WHERE t."created_by_user_id" IS NULL AND lower(t."created_by") = lower(u."email");
