ALTER TABLE `environments` ADD `client_secret` text;--> statement-breakpoint
ALTER TABLE `flags` ADD `client_visible` integer DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE `sdk_keys` ADD `kind` text DEFAULT 'server' NOT NULL;