CREATE TABLE `release_events` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`plan_id` integer,
	`flag_key` text NOT NULL,
	`environment` text NOT NULL,
	`at` integer NOT NULL,
	`kind` text NOT NULL,
	`actor` text NOT NULL,
	`message` text NOT NULL,
	`evidence` text
);
--> statement-breakpoint
CREATE INDEX `release_events_flag_idx` ON `release_events` (`flag_key`,`environment`,`id`);--> statement-breakpoint
CREATE TABLE `release_metrics` (
	`environment` text NOT NULL,
	`flag_key` text NOT NULL,
	`variation` text NOT NULL,
	`metric` text NOT NULL,
	`window_start` integer NOT NULL,
	`count` integer DEFAULT 0 NOT NULL,
	`sum` real DEFAULT 0 NOT NULL,
	`histogram` text,
	PRIMARY KEY(`environment`, `flag_key`, `metric`, `variation`, `window_start`)
);
--> statement-breakpoint
CREATE TABLE `release_plans` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`flag_key` text NOT NULL,
	`environment` text NOT NULL,
	`spec` text NOT NULL,
	`status` text NOT NULL,
	`current_step` integer DEFAULT -1 NOT NULL,
	`variation` text,
	`pause_reason` text,
	`started_at` integer,
	`step_started_at` integer,
	`paused_at` integer,
	`updated_at` integer NOT NULL,
	`updated_by` text NOT NULL,
	`version` integer DEFAULT 1 NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `release_plans_flag_env_idx` ON `release_plans` (`flag_key`,`environment`);--> statement-breakpoint
CREATE INDEX `release_plans_status_idx` ON `release_plans` (`status`);--> statement-breakpoint
CREATE TABLE `webhook_deliveries` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`webhook_id` integer NOT NULL,
	`event` text NOT NULL,
	`payload` text NOT NULL,
	`status` text NOT NULL,
	`attempts` integer DEFAULT 0 NOT NULL,
	`last_status_code` integer,
	`last_error` text,
	`next_attempt_at` integer,
	`created_at` integer NOT NULL,
	`delivered_at` integer,
	FOREIGN KEY (`webhook_id`) REFERENCES `webhooks`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `webhook_deliveries_hook_idx` ON `webhook_deliveries` (`webhook_id`,`id`);--> statement-breakpoint
CREATE INDEX `webhook_deliveries_pending_idx` ON `webhook_deliveries` (`status`,`next_attempt_at`);--> statement-breakpoint
CREATE TABLE `webhooks` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`url` text NOT NULL,
	`secret` text NOT NULL,
	`events` text NOT NULL,
	`created_at` integer NOT NULL,
	`created_by` text NOT NULL
);
