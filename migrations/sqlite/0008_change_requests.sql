CREATE TABLE `approval_policies` (
	`environment` text PRIMARY KEY NOT NULL,
	`required` integer NOT NULL,
	`approvals` integer NOT NULL,
	`approver_roles` text NOT NULL,
	`admin_bypass` integer NOT NULL,
	`version` integer DEFAULT 1 NOT NULL,
	`updated_at` integer NOT NULL,
	`updated_by` text NOT NULL
);
--> statement-breakpoint
CREATE TABLE `change_requests` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`title` text NOT NULL,
	`description` text NOT NULL,
	`environment` text NOT NULL,
	`status` text NOT NULL,
	`changes` text NOT NULL,
	`flag_keys` text NOT NULL,
	`approvals` text NOT NULL,
	`comments` text NOT NULL,
	`author` text NOT NULL,
	`author_token_id` integer NOT NULL,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	`version` integer DEFAULT 1 NOT NULL,
	`resolved_by` text,
	`resolved_at` integer,
	`reason` text,
	`bypassed` integer DEFAULT false NOT NULL
);
--> statement-breakpoint
CREATE INDEX `change_requests_status_idx` ON `change_requests` (`status`,`id`);--> statement-breakpoint
CREATE INDEX `change_requests_environment_idx` ON `change_requests` (`environment`,`id`);