"""The schema as ordered sqlite-utils migrations: append new ones, never edit applied ones."""

from __future__ import annotations

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

migrations = Migrations("newsflow")


@migrations()
def m001_core(db: Database) -> None:
    """Runs, documents, summaries and rejects: what the daily flow over files needs."""
    db.execute(
        """
        CREATE TABLE runs (
            id TEXT PRIMARY KEY,             -- our run id (uuid4 hex)
            flow_run_id TEXT,                -- Prefect flow-run id, when run under Prefect
            started_at TEXT NOT NULL,
            finished_at TEXT,
            status TEXT NOT NULL,            -- running | completed | failed | skipped
            trigger TEXT,                    -- cli | schedule | ui | test
            parameters TEXT,                 -- JSON of the run's parameters
            counts TEXT,                     -- JSON of what the run did
            error TEXT,
            pid INTEGER,
            host TEXT
        )
        """
    )
    db.execute(
        """
        CREATE TABLE documents (
            id INTEGER PRIMARY KEY,
            key TEXT NOT NULL UNIQUE,        -- identity: 'file:<path>' or the canonical url
            path TEXT,                       -- relative to the seeds folder, for files
            url TEXT,                        -- canonical url, for feed items and records
            title TEXT,
            body TEXT NOT NULL,              -- clean text, paragraphs separated by blank lines
            captions TEXT,                   -- photo captions, kept out of summaries
            language TEXT,                   -- ISO 639-1
            content_hash TEXT NOT NULL,      -- sha256 of the normalised body
            source TEXT,                     -- outlet / attribution
            published_at TEXT,               -- ISO 8601 UTC
            published_raw TEXT,              -- the date as it was written
            duplicate_of INTEGER REFERENCES documents(id) ON DELETE SET NULL,
            story_id INTEGER,
            feed_id INTEGER,
            summary_status TEXT,             -- ok | duplicate | unsupported_language | too_short
            word_count INTEGER,
            file_size INTEGER,               -- for skipping unchanged files without reading them
            file_mtime_ns INTEGER,
            version INTEGER NOT NULL DEFAULT 1,
            first_run_id TEXT,
            last_run_id TEXT,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        )
        """
    )
    db.execute("CREATE INDEX idx_documents_content_hash ON documents(content_hash)")
    db.execute("CREATE INDEX idx_documents_duplicate_of ON documents(duplicate_of)")
    db.execute("CREATE INDEX idx_documents_story_id ON documents(story_id)")
    db.execute("CREATE INDEX idx_documents_published_at ON documents(published_at)")
    db.execute("CREATE INDEX idx_documents_url ON documents(url)")
    db.execute(
        """
        CREATE TABLE document_versions (
            id INTEGER PRIMARY KEY,
            document_id INTEGER NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
            version INTEGER NOT NULL,
            title TEXT,
            body TEXT NOT NULL,
            content_hash TEXT NOT NULL,
            run_id TEXT,
            recorded_at TEXT NOT NULL,
            UNIQUE (document_id, version)
        )
        """
    )
    db.execute(
        """
        CREATE TABLE summaries (
            id INTEGER PRIMARY KEY,
            document_id INTEGER NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
            method TEXT NOT NULL,
            length TEXT NOT NULL,            -- '3' sentences or '0.2' ratio
            settings_version TEXT NOT NULL,
            content_hash TEXT NOT NULL,      -- the body it was made from
            text TEXT NOT NULL,              -- one sentence per line, in document order
            sentence_indexes TEXT NOT NULL,  -- JSON list: position of each sentence in the body
            run_id TEXT,
            created_at TEXT NOT NULL,
            UNIQUE (document_id, method, length, settings_version)
        )
        """
    )
    db.execute(
        """
        CREATE TABLE rejects (
            id INTEGER PRIMARY KEY,
            location TEXT NOT NULL UNIQUE,   -- file path or url
            kind TEXT NOT NULL,              -- file | record | feed_item
            reason TEXT NOT NULL,            -- empty | binary | too_large | no_text | ...
            detail TEXT,
            size INTEGER,
            run_id TEXT,
            first_seen_at TEXT NOT NULL,
            last_seen_at TEXT NOT NULL,
            times_seen INTEGER NOT NULL DEFAULT 1
        )
        """
    )


@migrations()
def m002_feeds(db: Database) -> None:
    """Feeds and their per-request health history."""
    db.execute(
        """
        CREATE TABLE feeds (
            id INTEGER PRIMARY KEY,
            url TEXT NOT NULL UNIQUE,
            name TEXT,
            language TEXT,                   -- hint; detection on the body still decides
            enabled INTEGER NOT NULL DEFAULT 1,
            tags TEXT,                       -- JSON list
            final_url TEXT,
            etag TEXT,
            last_modified TEXT,
            error_count INTEGER NOT NULL DEFAULT 0,
            last_error TEXT,
            next_fetch_after TEXT,           -- backoff for failing feeds
            last_fetched_at TEXT,
            created_at TEXT NOT NULL
        )
        """
    )
    db.execute(
        """
        CREATE TABLE fetches (
            id INTEGER PRIMARY KEY,
            run_id TEXT,
            feed_id INTEGER REFERENCES feeds(id) ON DELETE SET NULL,
            url TEXT NOT NULL,
            final_url TEXT,
            kind TEXT NOT NULL DEFAULT 'feed',   -- feed | article
            status INTEGER,
            bytes INTEGER,
            elapsed_ms INTEGER,
            attempts INTEGER,
            etag_sent TEXT,
            modified_sent TEXT,
            etag_received TEXT,
            modified_received TEXT,
            items INTEGER,
            new_items INTEGER,
            error TEXT,
            fetched_at TEXT NOT NULL
        )
        """
    )
    db.execute("CREATE INDEX idx_fetches_feed ON fetches(feed_id, fetched_at)")


@migrations()
def m003_stories_and_dedup(db: Database) -> None:
    """Stories, near-duplicate signatures, LSH bands and the dedup decision log."""
    db.execute(
        """
        CREATE TABLE stories (
            id INTEGER PRIMARY KEY,
            title TEXT,
            first_published_at TEXT,
            last_published_at TEXT,
            document_count INTEGER NOT NULL DEFAULT 0,
            languages TEXT,                  -- JSON list
            sources TEXT,                    -- JSON list of outlets
            summary TEXT,                    -- one sentence per line
            summary_sources TEXT,            -- JSON list: document id behind each line
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        )
        """
    )
    db.execute(
        """
        CREATE TABLE signatures (
            document_id INTEGER PRIMARY KEY REFERENCES documents(id) ON DELETE CASCADE,
            content_hash TEXT NOT NULL,
            minhash BLOB NOT NULL,
            created_at TEXT NOT NULL
        )
        """
    )
    db.execute(
        """
        CREATE TABLE lsh_bands (
            band INTEGER NOT NULL,
            bucket TEXT NOT NULL,
            document_id INTEGER NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
            PRIMARY KEY (band, bucket, document_id)
        ) WITHOUT ROWID
        """
    )
    db.execute("CREATE INDEX idx_lsh_bands_document ON lsh_bands(document_id)")
    db.execute(
        """
        CREATE TABLE dedup_decisions (
            id INTEGER PRIMARY KEY,
            document_id INTEGER NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
            canonical_id INTEGER REFERENCES documents(id) ON DELETE CASCADE,
            method TEXT NOT NULL,            -- content_hash | url | minhash | story
            score REAL,
            threshold REAL,
            decision TEXT NOT NULL,          -- duplicate | distinct | same_story
            reason TEXT,
            run_id TEXT,
            decided_at TEXT NOT NULL
        )
        """
    )
    db.execute("CREATE INDEX idx_dedup_document ON dedup_decisions(document_id)")


@migrations()
def m004_search(db: Database) -> None:
    """Full-text search over title, body and summary (kept in step by the store, per batch)."""
    db.execute(
        """
        CREATE VIRTUAL TABLE documents_fts USING fts5(
            title, body, summary,
            tokenize = 'unicode61 remove_diacritics 2'
        )
        """
    )


@migrations()
def m005_deployments_run_slot(db: Database) -> None:
    """The scheduled slot a run was started for, so a double-scheduled slot runs only once."""
    # slot = '<flow>/<deployment>@<scheduled start, UTC>' for scheduled runs, NULL otherwise.
    db.execute("ALTER TABLE runs ADD COLUMN slot TEXT")
    db.execute("CREATE INDEX idx_runs_slot ON runs(slot) WHERE slot IS NOT NULL")


@migrations()
def m006_reports_views(db: Database) -> None:
    """Stable read-only views for reports and Datasette, and the log of produced digests."""
    db.execute(
        """
        CREATE TABLE digests (
            id INTEGER PRIMARY KEY,
            generated_at TEXT NOT NULL,      -- items changed after this are 'new' in the next one
            window_start TEXT,
            window_end TEXT,
            format TEXT,
            items INTEGER
        )
        """
    )
    # One row per canonical document, with its latest summary and how many copies it had.
    db.execute(
        """
        CREATE VIEW v_daily_digest AS
        SELECT
            date(d.created_at) AS day,
            d.id AS document_id,
            d.story_id,
            d.title,
            d.language,
            coalesce(d.source, f.name) AS source,
            d.url,
            d.path,
            d.published_at,
            d.created_at,
            d.updated_at,
            d.version,
            d.summary_status,
            s.method AS summary_method,
            s.length AS summary_length,
            s.text AS summary,
            (SELECT count(*) FROM documents c WHERE c.duplicate_of = d.id) AS copies,
            d.first_run_id,
            d.last_run_id
        FROM documents d
        LEFT JOIN feeds f ON f.id = d.feed_id
        LEFT JOIN summaries s ON s.id = (
            SELECT s2.id FROM summaries s2 WHERE s2.document_id = d.id
            ORDER BY s2.created_at DESC, s2.id DESC LIMIT 1)
        WHERE d.duplicate_of IS NULL
        """
    )
    # One row per story, with the outlets of its documents.
    db.execute(
        """
        CREATE VIEW v_story_summaries AS
        SELECT
            st.id AS story_id,
            date(st.created_at) AS day,
            st.title,
            st.first_published_at,
            st.last_published_at,
            st.document_count,
            st.languages,
            st.sources,
            st.summary,
            st.summary_sources,
            (SELECT group_concat(DISTINCT coalesce(d.source, f.name))
             FROM documents d LEFT JOIN feeds f ON f.id = d.feed_id
             WHERE d.story_id = st.id) AS outlets,
            st.created_at,
            st.updated_at
        FROM stories st
        """
    )
    # One row per feed: its latest feed fetch and totals over its whole history.
    db.execute(
        """
        CREATE VIEW v_feed_health AS
        SELECT
            f.id AS feed_id,
            f.name,
            f.url,
            f.final_url,
            f.enabled,
            f.error_count,
            f.last_error,
            f.last_fetched_at,
            f.next_fetch_after,
            last.status AS last_status,
            last.items AS last_items,
            last.new_items AS last_new_items,
            last.elapsed_ms AS last_elapsed_ms,
            last.error AS last_fetch_error,
            (SELECT count(*) FROM fetches x WHERE x.feed_id = f.id AND x.kind = 'feed') AS fetches,
            (SELECT count(*) FROM fetches x
             WHERE x.feed_id = f.id AND x.kind = 'feed' AND x.status = 304) AS not_modified,
            (SELECT count(*) FROM fetches x
             WHERE x.feed_id = f.id AND x.kind = 'feed'
               AND (x.error IS NOT NULL OR x.status IS NULL OR x.status >= 400)) AS failed,
            (SELECT count(*) FROM documents d WHERE d.feed_id = f.id) AS documents,
            (SELECT count(*) FROM documents d
             WHERE d.feed_id = f.id AND d.duplicate_of IS NOT NULL) AS duplicates
        FROM feeds f
        LEFT JOIN fetches last ON last.id = (
            SELECT x.id FROM fetches x WHERE x.feed_id = f.id AND x.kind = 'feed'
            ORDER BY x.fetched_at DESC, x.id DESC LIMIT 1)
        """
    )
    # The run history with the common counts pulled out of the JSON.
    db.execute(
        """
        CREATE VIEW v_runs AS
        SELECT
            r.id AS run_id,
            r.flow_run_id,
            r.trigger,
            r.status,
            r.slot,
            r.started_at,
            r.finished_at,
            round((julianday(r.finished_at) - julianday(r.started_at)) * 86400) AS seconds,
            json_extract(r.parameters, '$.method') AS method,
            json_extract(r.parameters, '$.sentences') AS sentences,
            json_extract(r.counts, '$.documents_new') AS documents_new,
            json_extract(r.counts, '$.exact_duplicates') AS exact_duplicates,
            json_extract(r.counts, '$.summaries') AS summaries,
            json_extract(r.counts, '$.rejects') AS rejects,
            r.error
        FROM runs r
        """
    )


@migrations()
def m010_feeds_entry_state(db: Database) -> None:
    """Seen-state per feed entry (what the feed said, full-text status) and more fetch detail."""
    db.execute(
        """
        CREATE TABLE feed_entries (
            feed_id INTEGER NOT NULL REFERENCES feeds(id) ON DELETE CASCADE,
            entry_key TEXT NOT NULL,         -- documents.key of the entry
            document_id INTEGER REFERENCES documents(id) ON DELETE SET NULL,
            identity TEXT NOT NULL,          -- guid | link | hash: the rule that made the key
            guid TEXT,
            url TEXT,
            entry_hash TEXT NOT NULL,        -- hash of what the feed said; changes on an edit
            full_text TEXT,                  -- ok | failed | not_needed | no_link
            full_text_error TEXT,            -- why the article page gave no text
            full_text_attempts INTEGER NOT NULL DEFAULT 0,
            date_problem TEXT,               -- future | unparsed (published_raw keeps the string)
            first_seen_at TEXT NOT NULL,
            last_seen_at TEXT NOT NULL,
            first_run_id TEXT,
            last_run_id TEXT,
            PRIMARY KEY (feed_id, entry_key)
        )
        """
    )
    db.execute("CREATE INDEX idx_feed_entries_document ON feed_entries(document_id)")
    db.execute("CREATE INDEX idx_feed_entries_seen ON feed_entries(feed_id, last_seen_at)")
    db.execute("ALTER TABLE feeds ADD COLUMN title TEXT")  # the feed's own title
    db.execute("ALTER TABLE feeds ADD COLUMN format TEXT")  # rss20, atom10, json11, ...
    db.execute("ALTER TABLE fetches ADD COLUMN parse_error TEXT")  # bozo: read anyway
    db.execute("ALTER TABLE fetches ADD COLUMN redirects INTEGER")
    db.execute("ALTER TABLE fetches ADD COLUMN retry_after REAL")  # seconds the server asked for


@migrations()
def m007_dedup_queue_outlets_stories(db: Database) -> None:
    """Near-dup work queue (filled by triggers), outlets per canonical, window dates, settings."""
    # JSON list of the outlets that carried a canonical document (itself and its copies).
    db.execute("ALTER TABLE documents ADD COLUMN outlets TEXT")
    # coalesce(published_at, created_at), kept by dedup, so date windows use an index.
    db.execute("ALTER TABLE documents ADD COLUMN event_at TEXT")
    db.execute("CREATE INDEX idx_documents_event_at ON documents(event_at)")
    # Which shingle/MinHash settings made a signature: other settings mean recompute.
    db.execute("ALTER TABLE signatures ADD COLUMN settings TEXT")
    # Hash of the story summary's inputs, so it is recomputed only when they change.
    db.execute("ALTER TABLE stories ADD COLUMN summary_input TEXT")
    db.execute("CREATE INDEX idx_dedup_canonical ON dedup_decisions(canonical_id)")
    db.execute(
        """
        CREATE TABLE dedup_settings (
            name TEXT PRIMARY KEY,           -- threshold | window_days | banding
            value TEXT NOT NULL,
            updated_at TEXT NOT NULL
        )
        """
    )
    db.execute(
        """
        CREATE TABLE dedup_queue (
            document_id INTEGER PRIMARY KEY REFERENCES documents(id) ON DELETE CASCADE,
            queued_at TEXT NOT NULL
        )
        """
    )
    # Every writer of documents (files, feeds, records) queues new and changed rows for dedup.
    db.execute(
        """
        CREATE TRIGGER documents_dedup_queue_insert AFTER INSERT ON documents
        BEGIN
            INSERT OR IGNORE INTO dedup_queue (document_id, queued_at)
            VALUES (NEW.id, strftime('%Y-%m-%dT%H:%M:%SZ', 'now'));
        END
        """
    )
    db.execute(
        """
        CREATE TRIGGER documents_dedup_queue_update
        AFTER UPDATE OF content_hash, published_at, url, title, source, feed_id ON documents
        WHEN OLD.content_hash IS NOT NEW.content_hash OR OLD.published_at IS NOT NEW.published_at
          OR OLD.url IS NOT NEW.url OR OLD.title IS NOT NEW.title
          OR OLD.source IS NOT NEW.source OR OLD.feed_id IS NOT NEW.feed_id
        BEGIN
            INSERT OR IGNORE INTO dedup_queue (document_id, queued_at)
            VALUES (NEW.id, strftime('%Y-%m-%dT%H:%M:%SZ', 'now'));
        END
        """
    )
    db.execute(
        "INSERT INTO dedup_queue (document_id, queued_at)"
        " SELECT id, strftime('%Y-%m-%dT%H:%M:%SZ', 'now') FROM documents"
    )


@migrations()
def m011_story_features(db: Database) -> None:
    """What story grouping compares, computed once per body (not re-read for every new report)."""
    db.execute(
        """
        CREATE TABLE story_features (
            document_id INTEGER PRIMARY KEY REFERENCES documents(id) ON DELETE CASCADE,
            content_hash TEXT NOT NULL,
            settings TEXT NOT NULL,
            terms TEXT NOT NULL,             -- JSON {language:stem: weight}
            signals TEXT NOT NULL            -- JSON list of kind:value keys (names, dates, ...)
        )
        """
    )


@migrations()
def m012_dedup_requeue_released(db: Database) -> None:
    """Copies released by someone else (the store re-homes exact copies of a changed row) are
    decided again by near-dup detection: they may still be near-duplicates of the new text."""
    db.execute(
        """
        CREATE TRIGGER documents_dedup_queue_released
        AFTER UPDATE OF duplicate_of ON documents
        WHEN OLD.duplicate_of IS NOT NULL AND NEW.duplicate_of IS NULL
        BEGIN
            INSERT OR IGNORE INTO dedup_queue (document_id, queued_at)
            VALUES (NEW.id, strftime('%Y-%m-%dT%H:%M:%SZ', 'now'));
        END
        """
    )


@migrations()
def m013_documents_created_index(db: Database) -> None:
    """Undated documents are windowed by when they were stored: index that time."""
    db.execute("CREATE INDEX idx_documents_created_at ON documents(created_at)")


@migrations()
def m014_dedup_paragraphs(db: Database) -> None:
    """Short paragraphs by hash: a line many unrelated documents carry is an outlet's furniture,
    not article text, and does not count towards a near-duplicate group's "longest full text"."""
    db.execute(
        """
        CREATE TABLE paragraphs (
            hash TEXT NOT NULL,              -- blake2b of the folded paragraph
            document_id INTEGER NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
            words INTEGER NOT NULL,
            PRIMARY KEY (hash, document_id)
        ) WITHOUT ROWID
        """
    )
    db.execute("CREATE INDEX idx_paragraphs_document ON paragraphs(document_id)")


@migrations()
def m015_fetches_entries_cut(db: Database) -> None:
    """Entries a feed body held past the per-run cap: a flooding feed's cut stays on record."""
    db.execute("ALTER TABLE fetches ADD COLUMN entries_cut INTEGER")


@migrations()
def m015_digest_skips_boilerplate(db: Database) -> None:
    """A boilerplate-only notice is not news: leave it out of the daily digest view."""
    (sql,) = db.execute("SELECT sql FROM sqlite_master WHERE name = 'v_daily_digest'").fetchone()
    db.execute("DROP VIEW v_daily_digest")
    db.execute(
        sql.replace(
            "WHERE d.duplicate_of IS NULL",
            "WHERE d.duplicate_of IS NULL AND coalesce(d.summary_status, '') != 'boilerplate'",
        )
    )


@migrations()
def m016_signature_inputs(db: Database) -> None:
    """MinHash signatures and short-paragraph hashes computed by the parse workers, waiting for the
    next near-duplicate pass to index them (it would otherwise compute them again, alone)."""
    db.execute(
        """
        CREATE TABLE signature_inputs (
            document_id INTEGER PRIMARY KEY REFERENCES documents(id) ON DELETE CASCADE,
            content_hash TEXT NOT NULL,
            settings TEXT NOT NULL,
            minhash BLOB NOT NULL,           -- little-endian uint32 values
            paragraphs TEXT NOT NULL         -- JSON [[hash, words], ...]
        )
        """
    )


@migrations()
def m017_lsh_bands_integer_buckets(db: Database) -> None:
    """Band buckets as 64-bit integers rather than 16-character hex text: a smaller key that is
    cheaper to insert and to compare. The buckets are rebuilt from the stored signatures by the
    next near-duplicate pass (the stored banding no longer matches)."""
    db.execute("DROP TABLE lsh_bands")
    db.execute(
        """
        CREATE TABLE lsh_bands (
            band INTEGER NOT NULL,
            bucket INTEGER NOT NULL,
            document_id INTEGER NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
            PRIMARY KEY (band, bucket, document_id)
        ) WITHOUT ROWID
        """
    )
    db.execute("CREATE INDEX idx_lsh_bands_document ON lsh_bands(document_id)")
    db.execute("DELETE FROM dedup_settings WHERE name = 'banding'")


@migrations()
def m018_lsh_bands_without_document_index(db: Database) -> None:
    """No second index on `lsh_bands`: every band insert paid for it (inserts into 320,000 rows
    took 1.26 s with it, 0.40 s without), and its one use, removing a replaced signature's buckets,
    finds them by their keys instead (`neardup.band_rows_of`). Documents are never deleted
    by newsflow; deleting one by hand scans the table for its buckets."""
    db.execute("DROP INDEX IF EXISTS idx_lsh_bands_document")


@migrations()
def m019_story_features_sentences(db: Database) -> None:
    """Where the body's sentences are, as the parse split them: story summaries slice them rather
    than split every report again (a third of their time)."""
    db.execute("ALTER TABLE story_features ADD COLUMN sentences TEXT")  # JSON {language, spans}


@migrations()
def m020_runs_cpu(db: Database) -> None:
    """The CPU seconds a run took: the flow's process, and its workers' batches by kind."""
    db.execute("ALTER TABLE runs ADD COLUMN cpu TEXT")  # JSON {flow, workers, parse}


@migrations()
def m021_search_stems(db: Database) -> None:
    """Search that understands language: per document, its title and body as tagged Snowball
    stems of its language and the gazetteer ids it names (`tasks/store/search_index.py`), kept in
    step by the store. The stemming lives in `tasks/` and `db/` imports nothing from there, so the
    documents already stored are queued in `backfills` and the next writer indexes them."""
    db.execute(
        """
        CREATE VIRTUAL TABLE documents_search USING fts5(
            title, body, names,
            tokenize = 'unicode61 remove_diacritics 2'
        )
        """
    )
    db.execute(
        """
        CREATE TABLE IF NOT EXISTS backfills (
            name TEXT PRIMARY KEY,           -- the derived table to fill from what is stored
            queued_at TEXT NOT NULL
        )
        """
    )
    if db.execute("SELECT EXISTS (SELECT 1 FROM documents)").fetchone()[0]:
        db.execute(
            "INSERT OR IGNORE INTO backfills (name, queued_at) VALUES (?, datetime('now'))",
            ["documents_search"],
        )


@migrations()
def m022_topics_matches_notifications(db: Database) -> None:
    """Topics (what an analyst follows), the documents each one matched, and the messages sent
    when a topic had new stories."""
    db.execute(
        """
        CREATE TABLE topics (
            name TEXT PRIMARY KEY,           -- as in the topics file
            query TEXT NOT NULL,             -- search syntax; a change re-matches the window
            languages TEXT,                  -- JSON list of ISO 639-1 codes, NULL for all
            notify TEXT,                     -- '<block type>/<block name>' of a Prefect block
            enabled INTEGER NOT NULL DEFAULT 1,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL         -- when query, languages or enabled last changed
        )
        """
    )
    db.execute(
        """
        CREATE TABLE topic_matches (
            topic TEXT NOT NULL REFERENCES topics(name) ON DELETE CASCADE,
            document_id INTEGER NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
            story_id INTEGER,                -- the document's story when it matched
            run_id TEXT,                     -- the run that matched it
            matched_at TEXT NOT NULL,
            new_story INTEGER NOT NULL DEFAULT 0,  -- 1: the first match of its story for the topic
            PRIMARY KEY (topic, document_id)
        )
        """
    )
    db.execute("CREATE INDEX idx_topic_matches_run ON topic_matches(run_id, topic)")
    db.execute("CREATE INDEX idx_topic_matches_story ON topic_matches(topic, story_id)")
    db.execute("CREATE INDEX idx_topic_matches_document ON topic_matches(document_id)")
    db.execute(
        """
        CREATE TABLE notifications (
            id INTEGER PRIMARY KEY,
            topic TEXT NOT NULL,
            run_id TEXT,
            block TEXT NOT NULL,             -- '<block type>/<block name>'
            sent_at TEXT NOT NULL,
            status TEXT NOT NULL,            -- sent | failed
            error TEXT,
            stories INTEGER NOT NULL         -- new stories the message listed
        )
        """
    )
    db.execute("CREATE INDEX idx_notifications_topic ON notifications(topic, sent_at)")
    # A run's changed documents are found by when they changed (new ones by created_at, indexed).
    db.execute("CREATE INDEX idx_documents_updated_at ON documents(updated_at)")
    # One row per topic and matched canonical document, with its current story and summary.
    db.execute(
        """
        CREATE VIEW v_topic_digest AS
        SELECT
            m.topic,
            date(m.matched_at) AS day,
            m.matched_at,
            m.run_id,
            m.new_story,
            d.story_id,
            st.title AS story_title,
            m.document_id,
            d.title,
            d.language,
            coalesce(d.source, f.name) AS source,
            coalesce(d.url, d.path) AS location,
            d.published_at,
            (SELECT s.text FROM summaries s WHERE s.document_id = d.id
             ORDER BY s.created_at DESC, s.id DESC LIMIT 1) AS summary
        FROM topic_matches m
        JOIN documents d ON d.id = m.document_id
        LEFT JOIN feeds f ON f.id = d.feed_id
        LEFT JOIN stories st ON st.id = d.story_id
        """
    )


@migrations()
def m024_headline_only(db: Database) -> None:
    """Headline-only documents (a headline and too little text to be an article,
    tasks/common/headline.py) are marked: the mark survives dedup resetting `summary_status`; they
    are never summarised."""
    db.execute("ALTER TABLE documents ADD COLUMN headline_only INTEGER NOT NULL DEFAULT 0")


@migrations()
def m025_contained_lede_signatures(db: Database) -> None:
    """A MinHash of each body's opening words beside its signature: its LSH buckets find a
    shorter copy cut from the same start (a wire story's first paragraphs, a teaser), whose
    Jaccard similarity with the full text is too low for the body's own buckets."""
    db.execute("ALTER TABLE signatures ADD COLUMN lede BLOB")  # little-endian uint32, or NULL
    db.execute("ALTER TABLE signature_inputs ADD COLUMN lede BLOB")


@migrations()
def m026_story_state(db: Database) -> None:
    """The story clusterer's state, so that a pass loads only the stories its new reports look up
    (tasks/stories/story_state.py): each story's centroids and signal counts, the index from a
    headline term, text term or signal to the last stories that added it, and document frequencies
    by day
    (a pass weighs terms by the reports of its window's days)."""
    db.execute(
        """
        CREATE TABLE story_state (
            story_id INTEGER PRIMARY KEY REFERENCES stories(id) ON DELETE CASCADE,
            lead INTEGER NOT NULL,           -- its first report (decision rows name it)
            first REAL NOT NULL,             -- its span, seconds since the epoch
            last REAL NOT NULL,
            size INTEGER NOT NULL,           -- canonical reports
            undated INTEGER NOT NULL,        -- of which state no date
            signal_mass REAL NOT NULL,
            head_norm2 REAL NOT NULL,
            text_norm2 REAL NOT NULL,
            weighed_n INTEGER NOT NULL,      -- reports in the frequencies its centroids used
            head_terms TEXT NOT NULL,        -- JSON list of the headline-and-lede centroid's
            head_weights BLOB NOT NULL,      -- terms, and their weights (sums of unit vectors)
            text_terms TEXT NOT NULL,        -- as float64 little-endian; the same of the text
            text_weights BLOB NOT NULL,
            signals TEXT NOT NULL,           -- JSON {signal: reports carrying it}
            languages TEXT NOT NULL          -- JSON {language: reports}
        )
        """
    )
    db.execute("CREATE INDEX idx_story_state_last ON story_state(last)")
    db.execute(
        """
        CREATE TABLE story_postings (
            key TEXT PRIMARY KEY,            -- en^word, en:word or a signal
            stories TEXT NOT NULL            -- JSON list of story ids, the latest last (≤ 64)
        ) WITHOUT ROWID
        """
    )
    db.execute(
        """
        CREATE TABLE story_df (
            key TEXT NOT NULL,
            day INTEGER NOT NULL,            -- days since the epoch of the reports' time
            count INTEGER NOT NULL,
            PRIMARY KEY (key, day)
        ) WITHOUT ROWID
        """
    )
    db.execute("CREATE TABLE story_days (day INTEGER PRIMARY KEY, reports INTEGER NOT NULL)")
    db.execute(
        """
        CREATE TABLE story_counted (
            document_id INTEGER PRIMARY KEY REFERENCES documents(id) ON DELETE CASCADE,
            day INTEGER NOT NULL
        )
        """
    )
    # A database with stories gets their state built on its next story pass; an empty one has
    # nothing to build.
    if not db.execute("SELECT 1 FROM stories LIMIT 1").fetchone():
        db.execute(
            "INSERT OR REPLACE INTO dedup_settings (name, value, updated_at)"
            " VALUES ('story_state', 'built', strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))"
        )
