/*
 * The validators' sending machinery, shared by `replay` (a tap file) and
 * `day` (generated tourists): rows of SPEC §3 taps go out through
 * simulated validators over mutual TLS until each is answered.
 */
#ifndef ONECITY_REPLAY_H
#define ONECITY_REPLAY_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct row {
	char		*f[7];		/* tap_id time card par net stop kind */
	int64_t		 time;		/* INT64_MIN when unparsable */
	uint32_t	 kept;		/* index of the row price keeps */
	uint32_t	 device;
	int64_t		 seq;
	int		 state;		/* 0 unsent, 1 sent, 2 answered */
	int		 refused;
	uint8_t		 phase;		/* 1: after every phase-0 row */
	uint8_t		 gate;		/* 0 undecided, 1 open, 2 denied */
};

struct device;
struct strtab;
struct tap_tokenizer;

struct replay {
	struct event_base *base;
	const char	*engine, *certs;
	struct row	*row;
	size_t		 nrows;
	struct device	*dev;
	size_t		 ndev;
	size_t		 answered, refused, total, gate_denied;
	size_t		 gate_shown;		/* gate displays logged */
	size_t		 phase0_left, resumed;
	FILE		*acklog;
	FILE		*queue;
	int		 failed;
	int		 ids_name_devices;	/* tap_id = <device>:<seq> */
	int		 gate;			/* decide from the deny list */
	size_t		 reconnect_every;	/* 0: never on purpose */
	size_t		 stop_after;		/* crash after N answers (tests) */
	uint64_t	 shuffle_seed;		/* 0: file order */
	struct tap_tokenizer *tk;		/* the gate's card -> account */
	struct strtab	*deny;			/* accounts seen in D frames */
	uint8_t		*deny_on;
	size_t		 deny_cap;
};

/* Adds a row (fields copied); -1 on out of memory or too many rows. */
int	replay_add_row(struct replay *, const char *const f[7]);
/* Frees the rows added (replay_run() does it when it ends). */
void	replay_free_rows(struct replay *);
/*
 * Plans and sends every row; ack_path and queue_path may be NULL.
 * Returns 0 when all were acknowledged, 1 when some were refused, 2 on
 * failure.  Frees the rows.
 */
int	replay_run(struct replay *, const char *ack_path,
	    const char *queue_path);
/* Whether the gate's deny list holds the account of this card. */
int	replay_gate_denies(struct replay *, const char *pan, const char *par);

#endif
