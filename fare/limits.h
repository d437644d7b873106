/*
 * Every fixed upper bound of the engine and its tools, in one place, each
 * with the reason for its number (SQLite's sqliteLimit.h, TigerBeetle's
 * "put a limit on everything").
 */
#ifndef ONECITY_LIMITS_H
#define ONECITY_LIMITS_H

/* SPEC §2: a tariff beyond these is rejected. */
#define LIMIT_CAPS		16	/* 2^16 cap subsets stay cheap */
#define LIMIT_NETWORKS		64	/* network sets fit one uint64_t */
#define LIMIT_STOPS		1000000
#define LIMIT_RULES		100000	/* rows of each rule file */

/* Distinct currencies tracked to report a mixed feed (one is allowed). */
#define LIMIT_CURRENCIES	16

/* Rows of the other tariff files: generous, but not unbounded. */
#define LIMIT_TARIFF_ROWS	4000000

/* One CSV record: a tap row is under 200 bytes; a tariff row far less. */
#define LIMIT_CSV_RECORD	65536
#define LIMIT_CSV_FIELDS	64

/* Ids are short in practice (GTFS ids, device:seq); bound them. */
#define LIMIT_ID_LEN		128

/* Rules left out of pricing listed one by one per file; the rest are
 * counted in one line, so that warnings about whole networks stay within
 * LIMIT_DIAGNOSTICS. */
#define LIMIT_LEFT_OUT_LISTED	20

/* Problems reported for one tariff or tap file before we stop listing. */
#define LIMIT_DIAGNOSTICS	1000

/* Timezone files: Europe/Amsterdam has ~180 transitions. */
#define LIMIT_TZ_TRANSITIONS	2000
#define LIMIT_TZ_FILE		65536

/* A leg longer than a week is not a journey. */
#define LIMIT_MAX_LEG_MINUTES	10080
/* Transfer rule durations: GTFS says only "positive integer", and a
 * monthly pass's transfer may last 30 days (SPEC §2): int32_t's range. */
#define LIMIT_DURATION_S	2147483647
/* Distances: no leg is longer than the earth's circumference. */
#define LIMIT_DISTANCE_M	40075000
/* per_km_amount in 1e-5 EUR: up to 1000 EUR per km keeps sums in int64. */
#define LIMIT_PER_KM_1E5	100000000LL
/* Any single amount: a million euro is not a fare. */
#define LIMIT_AMOUNT_CENTS	100000000LL

/* Taps in one offline price run (the national day is 6 M). */
#define LIMIT_PRICE_TAPS	50000000

/* The engine service. */
/* Connections: validators of the whole country with a reserve; each costs
 * a TLS context (~40 KiB) so 20,000 is under 1 GiB. */
#define LIMIT_CONNECTIONS_DEFAULT	20000
#define LIMIT_CONNECTIONS_MAX		1000000
/* Pricing shards of the cluster deployment (serve --shards, worker). */
#define LIMIT_SHARDS_MAX		1024
/* Cards with a PAR a gateway keeps in its mirror of the `cards` bucket
 * (engine/card-mirror.h: 64 bytes a slot, at most 3/4 full, so 256 MiB
 * at the bound; a 2026 national scheme has a few million such cards).
 * Past it the gateway asks the bucket for each card it does not hold:
 * exact, but one JetStream round trip per such tap (gateway.h). */
#define GATEWAY_CARDS_MIRROR_MAX	3000000
/* Seconds a new connection has to finish its TLS handshake (slowloris). */
#define HANDSHAKE_TIMEOUT_S		10
/* A frame body: a tap is under 300 bytes; 16 KiB is one TLS record. */
#define WIRE_BODY_MAX			16384
/* Taps of one connection in flight before the engine stops reading it. */
#define TERMINAL_INFLIGHT_MAX		1024
/* Frames of one connection per event-loop turn (memcached's
 * reqs_per_event): a busy validator cannot starve the others. */
#define TERMINAL_FRAMES_PER_EVENT	64
/* Acks queued for a client that does not read: then stop reading it. */
#define TERMINAL_OUT_MAX		(256 * 1024)
/* Device certificates the engine remembers as verified (CA signature,
 * CRL), direct-mapped: a country's validators with room (32 B each). */
#define TLS_VERIFIED_CACHE		65536
/* Threads the engine runs TLS handshakes on (one per core, at most
 * this many; wire/tls.c, tls_ctx_handshake_threads). */
#define TLS_HANDSHAKE_THREADS_MAX	16
/* Plaintext read per TLS event: one batch, and fairness. */
#define TLS_READ_PER_EVENT		(64 * 1024)
/* Validators listed by /metrics (last seen): a country's with room; the
 * others are only counted (a series each costs the scraper memory). */
#define LIMIT_METRICS_DEVICES		20000
/* Seconds between the /metrics refreshes from the database (each reads
 * the day's taps and every closed day's charge: engine/metrics.c). */
#define METRICS_REFRESH_S_DEFAULT	60
/* A refresh may take at most 1/20 of one core: a slower one (a big taps
 * table: ~0.4 us per tap per scan here) spaces the next ones out. */
#define METRICS_REFRESH_SHARE		20
#define METRICS_REFRESH_S_MAX		3600
/* Validators the metrics thread keeps the last tap of, fed by the writer
 * so that a refresh reads no taps (beyond: each refresh scans the taps
 * table as before), and those the writer notes between two refreshes
 * (beyond: the next refresh scans once).  ~100 bytes each. */
#define METRICS_DEVICES_KEPT		(4 * LIMIT_METRICS_DEVICES)
#define WRITER_SEEN_DEVICES		LIMIT_METRICS_DEVICES
/* The writer's queue: back-pressure starts well before it is full. */
#define JOURNAL_QUEUE			65536
#define JOURNAL_QUEUE_PAUSE		60000
#define JOURNAL_QUEUE_RESUME		30000
/* Taps per transaction: one fsync amortised over many taps. */
#define JOURNAL_BATCH			4096
/* Repricing reads an account's taps back from the last clean cut before
 * the changed week (SPEC §6); it looks back this far at most before it
 * reads the whole history (a tariff whose transfers reach over months). */
#define WRITER_LOOKBACK_MAX_S		(400 * 86400LL)
/*
 * The writer's account cache (engine/account-cache.c): the taps and stored
 * days of each active account's open weeks, so that a batch reads nothing
 * back from SQLite for them.  An entry is about 200 bytes plus 24 bytes a
 * tap and 16 a day, its arrays grown by doubling: a commuter (4 taps a
 * day; the last two weeks and the cut before them kept: about 70 taps and
 * 20 days) holds 3.7 KiB.  At most ACCOUNT_CACHE_ACCOUNTS accounts and
 * ACCOUNT_CACHE_TAPS taps in all: 65,536 x (200 B + 64 days x 16 B) +
 * 2 x 1,000,000 taps x 24 B = 122 MiB at worst; the least recently used
 * account goes first.  An account over its share is not cached (read
 * each time).  `account_cache` (serve) lowers the number of accounts, and
 * the taps with it.
 */
#define ACCOUNT_CACHE_ACCOUNTS		65536
#define ACCOUNT_CACHE_TAPS		1000000
#define ACCOUNT_CACHE_TAPS_PER_ACCOUNT	2048
#define ACCOUNT_CACHE_DAYS_PER_ACCOUNT	64
_Static_assert(ACCOUNT_CACHE_TAPS_PER_ACCOUNT >= 28 * 4 &&
    ACCOUNT_CACHE_DAYS_PER_ACCOUNT >= 21,
    "an account's share holds three weeks of a busy rider");
/* Day close (SPEC §6): how often the writer looks for account-days to
 * post, and how many it posts in one transaction. */
#define WRITER_CLOSE_INTERVAL_S		1
#define WRITER_CLOSE_BATCH		1000
/* Checkpoints (engine/writer.c) run on their own thread and connection,
 * off the ack path, once commits have put WRITER_CHECKPOINT_PAGES in the
 * WAL.  Under steady load that thread never catches up with the last
 * frames, so the WAL would only grow: past WRITER_WAL_RESET_PAGES (4 MiB
 * of 4 KiB pages) the writer copies the few frames left itself, between
 * two batches, and the next batch starts the WAL again; past
 * WRITER_WAL_MAX_PAGES (16 MiB) it waits for the checkpoint whatever it
 * takes (a reader holding an old snapshot is waited for).  The WAL's file
 * keeps its largest size on disk, and a checkpoint has to grow the
 * database by the pages the WAL holds: a WAL let grow to 16 MiB before
 * its reset filled a small disk with itself once space returned after a
 * full disk, and then nothing could be checkpointed nor
 * committed again (tests/disk.test.sh).  So the reset comes early. */
#define WRITER_CHECKPOINT_PAGES		500
#define WRITER_WAL_RESET_PAGES		1000
#define WRITER_WAL_MAX_PAGES		4000
_Static_assert(WRITER_CHECKPOINT_PAGES < WRITER_WAL_RESET_PAGES &&
    WRITER_WAL_RESET_PAGES < WRITER_WAL_MAX_PAGES,
    "the checkpointer starts long before commits wait");
/* Idle seconds after which open legs are repriced (expiry). */
#define JOURNAL_EXPIRE_S		60
/* The expiry pass reprices at most WRITER_EXPIRE_BATCH accounts a
 * transaction (the queued taps are taken between two) and
 * WRITER_EXPIRE_ROUNDS transactions a pass. */
#define WRITER_EXPIRE_BATCH		256
#define WRITER_EXPIRE_ROUNDS		40
/* Taps of one card in any 24 hours: a rider taps a few dozen times on the
 * busiest day; beyond this a flood is refused (it would make every batch
 * reprice an ever longer history). */
#define LIMIT_CARD_TAPS_PER_DAY		500
/* The late-tap horizon (SPEC §3), in days. */
#define LATE_TAP_DAYS_DEFAULT		30
/* A validator's sequence number (tap_id <device_id>:<seq>): 11 digits at
 * most, so that no tap_id can carry a PAN (12-19 digits) into v_taps. */
#define TAP_SEQ_MAX			99999999999LL
/* A tap more than this ahead of the engine clock is refused (SPEC §3). */
#define TAP_FUTURE_S			300

_Static_assert(JOURNAL_QUEUE_RESUME < JOURNAL_QUEUE_PAUSE &&
    JOURNAL_QUEUE_PAUSE + TERMINAL_FRAMES_PER_EVENT < JOURNAL_QUEUE,
    "back-pressure must start before the journal queue is full");
_Static_assert(JOURNAL_BATCH <= JOURNAL_QUEUE, "a batch fits the queue");

_Static_assert(LIMIT_NETWORKS <= 64, "network sets are uint64_t masks");
_Static_assert(LIMIT_CAPS <= 20, "cap subsets are enumerated exhaustively");
_Static_assert(LIMIT_PER_KM_1E5 * (long long)LIMIT_DISTANCE_M < 9000000000000000000LL,
    "distance sums must fit int64_t");

/* Settlement (settle.c): the grace after a service day closes before it
 * is settled (late taps still arrive), how often it runs, how long one
 * acquirer request may take, and how often a tap of an indebted card
 * triggers a recovery attempt (each counts toward Visa's 6 in 14 days). */
#define SETTLE_GRACE_S_DEFAULT		(3 * 3600)
#define SETTLE_INTERVAL_S_DEFAULT	60
#define SETTLE_TIMEOUT_MS_DEFAULT	2000
#define DEBT_TAP_GAP_S_DEFAULT		3600

/* TCP keepalive on validator connections: a peer that vanished without
 * closing (half-open) is dropped after 60 + 6 x 10 s = 2 minutes. */
#define TCP_KEEPALIVE_IDLE_S		60
#define TCP_KEEPALIVE_INTERVAL_S	10
#define TCP_KEEPALIVE_PROBES		6

/* The writer's SQLite page cache: 256 MiB keeps the hot indexes of a
 * busy day in memory (the default 2 MiB made every batch re-read pages). */
#define JOURNAL_CACHE_KIB		(256 * 1024)

/* The HTTP listener (engine/http.c): health probes, metrics scrapes and
 * small rider pages, never uploads.  A request head of 8 KiB holds any
 * browser's (cookies included); a GET carries no body worth reading; a
 * request slower than 10 s is a slowloris, not a client; 256 connections
 * per listener leave the validators' descriptors alone (checked against
 * RLIMIT_NOFILE at start-up). */
#define HTTP_CONNECTIONS_DEFAULT	256
#define HTTP_HEAD_MAX			8192
#define HTTP_TARGET_MAX			2048
#define HTTP_BODY_MAX			1024
#define HTTP_TIMEOUT_S			10
#define HTTP_REQUESTS_PER_CONNECTION	100
/* A response: /metrics grows with the fleet, a line per validator seen
 * (at most LIMIT_METRICS_DEVICES of ids up to 64 bytes: 143 bytes a
 * line, 2.9 MB); a rider page is far under this.  1 MiB made /metrics
 * a 500 once some 13,000 validators had tapped. */
#define HTTP_RESPONSE_MAX		(4 * 1024 * 1024)
_Static_assert(HTTP_RESPONSE_MAX >= LIMIT_METRICS_DEVICES * 150 + 65536,
    "/metrics of the largest fleet fits a response");
/* Bytes of responses queued and not yet taken by their clients, per
 * listener: clients that ask and never read cannot make the engine hold
 * more (beyond it: 503); a few scrapes of the largest /metrics fit. */
#define HTTP_QUEUED_MAX			(16 * 1024 * 1024)
#define HTTP_ROUTES_MAX			16
/* Descriptors the engine needs besides its connections: the database and
 * its WAL and SHM (twice: writer, settlement, deny feed), listeners,
 * the acquirer, libevent's own, stdio.  RLIMIT_NOFILE must hold these
 * plus max_connections plus each HTTP listener's connections. */
#define FD_RESERVE			64
/* Log lines of one kind (accept errors, libevent's own) at most this many
 * per minute; the rest are counted and said in one line. */
#define LOG_BURST_PER_MINUTE		10
/* /healthz fails for this long after the validator listener's accept()
 * failed: it retries each second, so this spans a few retries. */
#define HEALTH_ACCEPT_FAILED_US		(3 * 1000000ULL)

_Static_assert(HTTP_TARGET_MAX < HTTP_HEAD_MAX, "a target fits the head");

/* CRLs (wire/tls.c, certs/certs.c): `certs crl` issues one valid this
 * many days (run it daily from a timer: a month of slack); the engine
 * warns in its log and on /healthz this many days before nextUpdate, and
 * accepts a thisUpdate this far ahead of its clock. */
#define CRL_VALID_DAYS_DEFAULT		30
#define CRL_VALID_DAYS_MAX		366
#define CRL_WARN_DAYS			7
#define TLS_CRL_CLOCK_SKEW_S		300

/* The listen backlog: a reconnect storm of thousands of validators waits
 * in the kernel, not in SYN retries (Linux caps it at somaxconn, 4096). */
#define LISTEN_BACKLOG			4096

/* A rider's statement (store/statement.c): two years of days, and rows
 * for 500 taps a day on a handful of days (LIMIT_CARD_TAPS_PER_DAY) or a
 * commuter's ten legs a day for two years. */
#define STATEMENT_DAYS_MAX		800
#define STATEMENT_ROWS_MAX		10000

#endif
