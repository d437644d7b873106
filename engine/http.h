/*
 * A bounded HTTP/1.1 listener for the engine's small read-only endpoints
 * (/healthz, /metrics, rider pages): GET and HEAD only, every size, time
 * and count capped, one handler callback per path.  See http.c.
 */
#ifndef ONECITY_HTTP_H
#define ONECITY_HTTP_H

#include <stddef.h>
#include <stdint.h>

struct event_base;
struct evbuffer;
struct http_server;

/* What a listener accepts.  http_limits_default() gives limits.h's. */
struct http_limits {
	long		 max_connections;	/* then the least recently
						 * active one is closed */
	size_t		 head_max_bytes;	/* request line + headers */
	size_t		 body_max_bytes;	/* a GET may carry this much */
	long		 timeout_s;		/* per request: idle, half-sent
						 * or not read, it is closed */
	unsigned	 requests_per_connection;
};

enum http_method {
	HTTP_GET = 1,
	HTTP_HEAD,
};

#define HTTP_HEADERS_MAX	64	/* header lines in one request */

/*
 * One parsed request head; the strings point into the caller's buffer
 * (NUL-terminated in place).  path is the origin-form target before '?',
 * starting with '/'; query what follows '?' ("" if none).  Both are raw
 * (not percent-decoded) visible ASCII.
 */
struct http_head {
	enum http_method method;
	const char	*path;
	const char	*query;
	int		 minor;			/* HTTP/1.minor */
	int		 keep_alive;
	uint64_t	 content_length;
	size_t		 nheaders;
	const char	*name[HTTP_HEADERS_MAX], *value[HTTP_HEADERS_MAX];
};

/* A request as a handler sees it. */
struct http_request {
	const struct http_head *head;
	const char	*peer;		/* the client's address, as text */
};

/*
 * A handler's answer: status (200 unless set), content_type,
 * cache_control (NULL: no-store), the body (an evbuffer the handler
 * appends to; not sent for HEAD) and extra headers added with
 * http_response_header().
 */
struct http_response {
	int		 status;
	const char	*content_type;
	const char	*cache_control;	/* NULL: "no-store" */
	struct evbuffer	*body;
	char		 headers[1024];
	size_t		 headers_len;
};

typedef void	(*http_handler_cb)(const struct http_request *,
		    struct http_response *, void *arg);

/* Counters for /metrics, since the listener started. */
struct http_stats {
	long		 connections;		/* open now */
	uint64_t	 accepted;
	uint64_t	 requests;		/* answered by a handler */
	uint64_t	 refused;		/* 4xx/5xx from the listener */
	uint64_t	 timeouts;
	uint64_t	 evicted;		/* closed at the connection cap */
	uint64_t	 accept_errors;		/* EMFILE and friends */
	int		 paused;		/* accepting stopped for now */
};

/* HTTP_* defaults from limits.h. */
struct http_limits http_limits_default(void);

/*
 * Listens on "HOST:PORT" (IPv4) with the given limits; name ("http",
 * "public") prefixes its log lines.  NULL with err on failure.
 */
struct http_server *http_listen(struct event_base *, const char *name,
	    const char *hostport, const struct http_limits *, char *err,
	    size_t errlen);
/*
 * Routes path to cb: an exact path, or a prefix when it ends in '/'
 * ("/journey/" takes "/journey/abc").  The longest match wins; -1 when
 * the table (16 routes) is full or the path does not start with '/'.
 */
int	http_route(struct http_server *, const char *path, http_handler_cb,
	    void *arg);
/* Adds "name: value" to a response; -1 (nothing added) on a CR, LF or
 * NUL in either, or when the header space is full. */
int	http_response_header(struct http_response *, const char *name,
	    const char *value);
void	http_get_stats(const struct http_server *, struct http_stats *);
/* Closes the listener and every connection. */
void	http_free(struct http_server *);

/*
 * The pure part, in memory (fuzz/fuzz_http.c drives it):
 * http_head_end() is the length of the request head at the start of buf
 * (through the blank line that ends it), 0 while it is incomplete.
 * http_parse_head() parses that head, writing NULs into it: 0 when it is
 * a request the listener serves, else the HTTP status to answer with
 * (400 malformed, 405 not GET or HEAD, 413 too many headers, 414 target
 * too long, 501 a transfer coding, 505 not HTTP/1.x) and *why.
 */
size_t	http_head_end(const char *buf, size_t len);
int	http_parse_head(char *buf, size_t len, struct http_head *,
	    const char **why);
/* A header's value by case-insensitive name, or NULL. */
const char *http_head_get(const struct http_head *, const char *name);

#endif
