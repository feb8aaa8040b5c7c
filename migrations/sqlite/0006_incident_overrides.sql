CREATE TABLE `incident_overrides` (
	`flag_id` integer NOT NULL,
	`environment_id` integer NOT NULL,
	`killed_at` integer NOT NULL,
	`killed_by` text NOT NULL,
	`message` text,
	`since_commit` text,
	`file_config` text NOT NULL,
	PRIMARY KEY(`flag_id`, `environment_id`),
	FOREIGN KEY (`flag_id`) REFERENCES `flags`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`environment_id`) REFERENCES `environments`(`id`) ON UPDATE no action ON DELETE cascade
);
