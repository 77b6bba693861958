import GRDB

/// The journal's tables, created and upgraded by GRDB's migrator: a journal written by an older
/// callrelay is upgraded in place, never replaced.
enum JournalSchema {
    static func migrator() -> DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1: events and dedupe marks") { db in
            // `seq` orders everything: the log stream, `tail`, and (later) each webhook's cursor.
            try db.execute(
                sql: """
                    CREATE TABLE events (
                        seq INTEGER PRIMARY KEY AUTOINCREMENT,
                        id TEXT NOT NULL,
                        tenant TEXT NOT NULL,
                        type TEXT NOT NULL,
                        call_id TEXT NOT NULL,
                        received_at REAL NOT NULL,
                        caller_flow TEXT,
                        callee_flow TEXT,
                        body TEXT NOT NULL
                    );
                    -- Transfer correlation looks up the last connected call of a flow; only connected
                    -- events are indexed, so the index costs little on the write path.
                    CREATE INDEX events_connected_caller ON events(tenant, caller_flow)
                        WHERE type = 'call.connected';
                    CREATE INDEX events_connected_callee ON events(tenant, callee_flow)
                        WHERE type = 'call.connected';
                    CREATE TABLE seen (
                        id TEXT PRIMARY KEY NOT NULL,
                        seen_at REAL NOT NULL
                    ) WITHOUT ROWID;
                    CREATE INDEX seen_age ON seen(seen_at);
                    """)
        }
        migrator.registerMigration("v2: webhook deliveries") { db in
            // One row per event and endpoint, written in the event's own commit: an event can never be
            // journaled without the deliveries it owes. `call_key` keeps each call's events in order.
            try db.execute(
                sql: """
                    CREATE TABLE deliveries (
                        endpoint TEXT NOT NULL,
                        seq INTEGER NOT NULL,
                        call_key TEXT NOT NULL,
                        state TEXT NOT NULL DEFAULT 'pending',
                        attempts INTEGER NOT NULL DEFAULT 0,
                        next_at REAL NOT NULL,
                        last_error TEXT,
                        updated_at REAL NOT NULL,
                        PRIMARY KEY (endpoint, seq)
                    ) WITHOUT ROWID;
                    CREATE INDEX deliveries_pending ON deliveries(endpoint, state, seq);
                    CREATE INDEX deliveries_call ON deliveries(endpoint, call_key, seq) WHERE state = 'pending';
                    """)
        }
        migrator.registerMigration("v3: when the next delivery is due") { db in
            // A deliverer with nothing due asks when to look again; without this index that question
            // reads every pending delivery, which after a long CRM outage is the whole backlog.
            try db.execute(
                sql: "CREATE INDEX deliveries_next ON deliveries(endpoint, next_at) WHERE state = 'pending'")
        }
        migrator.registerMigration("v4: dedupe marks in memory") { db in
            // Each event is its own dedupe mark (the marks are read back from the newest events at
            // start): the table of marks cost two random-key B-tree writes per event.
            try db.execute(sql: "DROP TABLE seen")
        }
        migrator.registerMigration("v5: transfer correlation in memory") { db in
            // Transfer correlation remembers connections in memory (read back at start), so the
            // events table no longer keeps an index for it.
            try db.execute(sql: "DROP INDEX events_connected_caller; DROP INDEX events_connected_callee")
        }
        migrator.registerMigration("v6: sequences counted by the journal") { db in
            // `AUTOINCREMENT` reads and rewrites its counter in `sqlite_sequence` at every insert. The
            // journal numbers the rows itself and keeps here the
            // highest number pruning took away (see `Journal.sequences`): pruning every event must
            // never let a number be handed out twice (cursors of `tail --follow` and of deliveries
            // hold them).
            // The table is rebuilt, as SQLite cannot drop `AUTOINCREMENT` from one in place.
            try db.execute(
                sql: """
                    CREATE TABLE journal_counters (name TEXT PRIMARY KEY NOT NULL, value INTEGER NOT NULL) WITHOUT ROWID;
                    INSERT INTO journal_counters (name, value) VALUES ('last_sequence', max(
                        coalesce((SELECT max(seq) FROM events), 0),
                        coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'events'), 0)));
                    CREATE TABLE events_v6 (
                        seq INTEGER PRIMARY KEY,
                        id TEXT NOT NULL,
                        tenant TEXT NOT NULL,
                        type TEXT NOT NULL,
                        call_id TEXT NOT NULL,
                        received_at REAL NOT NULL,
                        caller_flow TEXT,
                        callee_flow TEXT,
                        body TEXT NOT NULL
                    );
                    INSERT INTO events_v6 SELECT seq, id, tenant, type, call_id, received_at, caller_flow, callee_flow, body
                        FROM events ORDER BY seq;
                    DROP TABLE events;
                    ALTER TABLE events_v6 RENAME TO events;
                    """)
        }
        migrator.registerMigration("v7: dead letters hold their call") { db in
            // A call's later deliveries wait behind a dead one until it is retried or dropped, so a
            // revived dead letter still reaches the endpoint before them; dead letters are few.
            try db.execute(
                sql: "CREATE INDEX deliveries_dead ON deliveries(endpoint, call_key, seq) WHERE state = 'dead'")
        }
        return migrator
    }
}
