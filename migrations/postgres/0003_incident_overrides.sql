CREATE TABLE "incident_overrides" (
	"flag_id" integer NOT NULL,
	"environment_id" integer NOT NULL,
	"killed_at" bigint NOT NULL,
	"killed_by" text NOT NULL,
	"message" text,
	"since_commit" text,
	"file_config" jsonb NOT NULL,
	CONSTRAINT "incident_overrides_flag_id_environment_id_pk" PRIMARY KEY("flag_id","environment_id")
);
--> statement-breakpoint
ALTER TABLE "incident_overrides" ADD CONSTRAINT "incident_overrides_flag_id_flags_id_fk" FOREIGN KEY ("flag_id") REFERENCES "flags"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "incident_overrides" ADD CONSTRAINT "incident_overrides_environment_id_environments_id_fk" FOREIGN KEY ("environment_id") REFERENCES "environments"("id") ON DELETE cascade ON UPDATE no action;