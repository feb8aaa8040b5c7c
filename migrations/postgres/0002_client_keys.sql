ALTER TABLE "environments" ADD COLUMN "client_secret" text;--> statement-breakpoint
ALTER TABLE "flags" ADD COLUMN "client_visible" boolean DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE "sdk_keys" ADD COLUMN "kind" text DEFAULT 'server' NOT NULL;