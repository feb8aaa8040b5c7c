CREATE TABLE `schedules` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`flag_key` text NOT NULL,
	`environment` text NOT NULL,
	`at` integer NOT NULL,
	`action` text NOT NULL,
	`message` text,
	`on_late` text NOT NULL,
	`grace_ms` integer NOT NULL,
	`if_changed` text NOT NULL,
	`base_version` integer NOT NULL,
	`baseline` text NOT NULL,
	`status` text NOT NULL,
	`created_at` integer NOT NULL,
	`created_by` text NOT NULL,
	`updated_at` integer NOT NULL,
	`updated_by` text NOT NULL,
	`version` integer DEFAULT 1 NOT NULL,
	`executed_at` integer,
	`late_by_ms` integer,
	`outcome` text,
	`result_version` integer,
	`audit_id` integer
);
--> statement-breakpoint
CREATE INDEX `schedules_due_idx` ON `schedules` (`status`,`at`);--> statement-breakpoint
CREATE INDEX `schedules_flag_idx` ON `schedules` (`flag_key`,`environment`);