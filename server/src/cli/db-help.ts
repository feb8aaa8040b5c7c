/** The help of `switchyard db …`, apart from the command so `switchyard help` loads no database driver. */

export const DB_HELP = `Usage: switchyard db <command> [flags]

Commands:
  copy    Copy a SQLite installation into PostgreSQL and verify the copy

Run "switchyard db copy --help" for its flags.
`;

export const COPY_HELP = `Usage: switchyard db copy --from FILE --to URL

Copy a whole installation from SQLite to PostgreSQL and verify it: the upgrade path from one node
to a cluster. Everything is copied with its ids — flags and their configurations, segments,
environments, the audit log, API tokens and SDK keys (as hashes: existing secrets keep working),
dashboard sessions, release plans and their decision log, metrics, webhooks and their deliveries,
the change feed (SDKs keep their rule-set versions) and the cluster state.

Flags:
  --from FILE   the SQLite database: <data dir>/switchyard.db
  --to URL      PostgreSQL, e.g. postgres://user:password@host:5432/db; the schema is the URL's
                search_path (?options=-c%20search_path%3Dswitchyard), which must exist and hold no
                Switchyard data (a schema a server has only migrated is fine)
  -h, --help    show this help

The copy is one PostgreSQL transaction: it commits complete and verified — every table's row
count and a digest of its content compared with the source — or not at all. The source is only
read, never modified; a database written by an older Switchyard is refused until this version has
migrated it (start "switchyard serve" on it once).

The source is read as one consistent snapshot, so the copy works while its server runs, but
changes made after the snapshot are not copied: for the cut-over, stop the server, copy, then start
the servers with SWITCHYARD_DATABASE_URL set to the same URL.

Exit codes: 0 copied and verified; 1 refused or failed, nothing committed; 2 usage error.

Example:
  $ switchyard db copy --from ./data/switchyard.db --to 'postgres://switchyard@db:5432/switchyard'
`;
