CREATE TABLE `change_feed` (
	`seq` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`at` integer NOT NULL,
	`entry` text NOT NULL
);
--> statement-breakpoint
CREATE TABLE `cluster_state` (
	`key` text PRIMARY KEY NOT NULL,
	`value` text NOT NULL,
	`updated_at` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `release_metric_buckets` (
	`environment` text NOT NULL,
	`flag_key` text NOT NULL,
	`variation` text NOT NULL,
	`metric` text NOT NULL,
	`window_start` integer NOT NULL,
	`bucket` integer NOT NULL,
	`count` integer DEFAULT 0 NOT NULL,
	PRIMARY KEY(`environment`, `flag_key`, `metric`, `variation`, `window_start`, `bucket`)
);
--> statement-breakpoint
ALTER TABLE `flags` ADD `managed_by` text;--> statement-breakpoint
ALTER TABLE `segments` ADD `managed_by` text;--> statement-breakpoint
ALTER TABLE `webhook_deliveries` ADD `claimed_until` integer;--> statement-breakpoint
-- Histograms move from a JSON column (merged in application code) to one counter per bucket,
-- which concurrent uploads from several replicas can add to in place.
INSERT INTO `release_metric_buckets` (`environment`, `flag_key`, `variation`, `metric`, `window_start`, `bucket`, `count`)
  SELECT m.`environment`, m.`flag_key`, m.`variation`, m.`metric`, m.`window_start`, CAST(h.`key` AS INTEGER), h.`value`
  FROM `release_metrics` m, json_each(m.`histogram`) h WHERE m.`histogram` IS NOT NULL;--> statement-breakpoint
ALTER TABLE `release_metrics` DROP COLUMN `histogram`;--> statement-breakpoint
-- Rule-set versions become change-feed positions: start the feed above every version an SDK may
-- already hold, so versions keep growing across the upgrade.
INSERT INTO `sqlite_sequence` (`name`, `seq`) SELECT 'change_feed', MAX(`version`) FROM `environments` HAVING COUNT(*) > 0;--> statement-breakpoint
-- Git-managed markers move from memory to the database. What the sync (actor "gitops") wrote since
-- anyone else last created it was managed by it; the next sync names its source.
UPDATE `flags` SET `managed_by` = '(git sync)' WHERE `key` IN (
  SELECT a.`resource_key` FROM `audit_log` a WHERE a.`actor` = 'gitops' AND a.`resource_type` = 'flag'
    AND a.`id` > COALESCE((SELECT MAX(c.`id`) FROM `audit_log` c WHERE c.`resource_type` = 'flag' AND c.`resource_key` = a.`resource_key` AND c.`action` = 'flag.created' AND c.`actor` <> 'gitops'), 0));--> statement-breakpoint
UPDATE `segments` SET `managed_by` = '(git sync)' WHERE `key` IN (
  SELECT a.`resource_key` FROM `audit_log` a WHERE a.`actor` = 'gitops' AND a.`resource_type` = 'segment'
    AND a.`id` > COALESCE((SELECT MAX(c.`id`) FROM `audit_log` c WHERE c.`resource_type` = 'segment' AND c.`resource_key` = a.`resource_key` AND c.`action` = 'segment.created' AND c.`actor` <> 'gitops'), 0));