CREATE TABLE "release_metric_sources" (
	"environment" text NOT NULL,
	"flag_key" text NOT NULL,
	"variation" text NOT NULL,
	"metric" text NOT NULL,
	"window_start" bigint NOT NULL,
	"key_id" integer NOT NULL,
	"key_name" text NOT NULL,
	"count" bigint DEFAULT 0 NOT NULL,
	CONSTRAINT "release_metric_sources_environment_flag_key_metric_variation_window_start_key_id_pk" PRIMARY KEY("environment","flag_key","metric","variation","window_start","key_id")
);
--> statement-breakpoint
CREATE TABLE "sdk_upload_counts" (
	"key_id" integer NOT NULL,
	"window_start" bigint NOT NULL,
	"count" integer DEFAULT 0 NOT NULL,
	CONSTRAINT "sdk_upload_counts_key_id_window_start_pk" PRIMARY KEY("key_id","window_start")
);
