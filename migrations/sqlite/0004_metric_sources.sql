CREATE TABLE `release_metric_sources` (
	`environment` text NOT NULL,
	`flag_key` text NOT NULL,
	`variation` text NOT NULL,
	`metric` text NOT NULL,
	`window_start` integer NOT NULL,
	`key_id` integer NOT NULL,
	`key_name` text NOT NULL,
	`count` integer DEFAULT 0 NOT NULL,
	PRIMARY KEY(`environment`, `flag_key`, `metric`, `variation`, `window_start`, `key_id`)
);
--> statement-breakpoint
CREATE TABLE `sdk_upload_counts` (
	`key_id` integer NOT NULL,
	`window_start` integer NOT NULL,
	`count` integer DEFAULT 0 NOT NULL,
	PRIMARY KEY(`key_id`, `window_start`)
);
