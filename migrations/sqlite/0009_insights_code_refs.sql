CREATE TABLE `code_ref_flags` (
	`flag_key` text PRIMARY KEY NOT NULL,
	`last_referenced_at` integer NOT NULL,
	`removed_at` integer
);
--> statement-breakpoint
CREATE TABLE `code_ref_uploads` (
	`repository` text NOT NULL,
	`branch` text NOT NULL,
	`commit` text NOT NULL,
	`uploaded_at` integer NOT NULL,
	`uploaded_by` text NOT NULL,
	`references` integer NOT NULL,
	PRIMARY KEY(`repository`, `branch`)
);
--> statement-breakpoint
CREATE TABLE `code_refs` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`repository` text NOT NULL,
	`branch` text NOT NULL,
	`flag_key` text NOT NULL,
	`path` text NOT NULL,
	`line` integer NOT NULL,
	`snippet` text NOT NULL
);
--> statement-breakpoint
CREATE INDEX `code_refs_branch_idx` ON `code_refs` (`repository`,`branch`);--> statement-breakpoint
CREATE INDEX `code_refs_flag_idx` ON `code_refs` (`flag_key`);--> statement-breakpoint
CREATE TABLE `evaluation_counts` (
	`environment` text NOT NULL,
	`flag_key` text NOT NULL,
	`hour` integer NOT NULL,
	`variation` text NOT NULL,
	`count` integer DEFAULT 0 NOT NULL,
	PRIMARY KEY(`environment`, `flag_key`, `hour`, `variation`)
);
--> statement-breakpoint
CREATE INDEX `evaluation_counts_hour_idx` ON `evaluation_counts` (`hour`);--> statement-breakpoint
CREATE TABLE `flag_last_evaluated` (
	`environment` text NOT NULL,
	`flag_key` text NOT NULL,
	`at` integer NOT NULL,
	PRIMARY KEY(`environment`, `flag_key`)
);
--> statement-breakpoint
CREATE TABLE `sdk_connections` (
	`key_id` integer NOT NULL,
	`key_name` text NOT NULL,
	`environment` text NOT NULL,
	`sdk` text NOT NULL,
	`version` text NOT NULL,
	`first_seen_at` integer NOT NULL,
	`last_seen_at` integer NOT NULL,
	PRIMARY KEY(`key_id`, `sdk`, `version`)
);
--> statement-breakpoint
CREATE INDEX `sdk_connections_environment_idx` ON `sdk_connections` (`environment`,`last_seen_at`);