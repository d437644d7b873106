/*
 * A bounded HTTP/1.1 listener, our own rather than evhttp: libevent 2.1's
 * evhttp has no connection cap, answers a forbidden method with 501,
 * keeps a half-sent request forever and, with descriptors exhausted, its
 * accept loop logs a line per wake-up (issue 16: 3 M lines in 4 s).
 * Here every connection is a small state machine (memcached, httpd):
 *
 *   HEAD    reading the request line and headers (at most head_max_bytes)
 *   BODY    discarding a GET's small body (at most body_max_bytes)
 *   WRITING the response is queued; reading stops until it is sent
 *
 * GET and HEAD only (405 otherwise); heads and bodies over the limits get
 * 413 and the connection closes without reading the rest; one timer per
 * connection closes it when a request has not arrived, or its response
 * not left, within timeout_s (idle keep-alive and slowloris alike).  At
 * the connection cap the least recently active connection is closed, so
 * that a health probe always gets in; when accept() fails (EMFILE) the
 * listener pauses for a second, and says so at most LOG_BURST_PER_MINUTE
 * times a minute, and a spare descriptor kept for the purpose is given up
 * to take one connection (the probe that should hear about it).
 */
#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>

#include <mbedtls/platform_util.h>

#include "log.h"
#include "http.h"
#include "limits.h"
#include "wire.h"

enum http_conn_state {
	HTTP_CONN_HEAD,
	HTTP_CONN_BODY,
	HTTP_CONN_WRITING,
	HTTP_CONN_STATE_MAX,
};

struct http_route {
	char		*path;
	size_t		 len;
	int		 prefix;
	http_handler_cb	 cb;
	void		*arg;
};

struct http_conn {
	struct http_server	*srv;
	struct bufferevent	*bev;
	struct event		*deadline;
	enum http_conn_state	 state;
	uint64_t		 body_left;
	size_t			 queued;	/* of srv->queued: this
						 * response's bytes */
	unsigned		 requests;
	int			 close_after;	/* once the response is out */
	char			 peer[INET_ADDRSTRLEN];
	TAILQ_ENTRY(http_conn)	 link;		/* least recently active
						 * first */
};

struct http_server {
	struct event_base	*base;
	struct evconnlistener	*listener;
	struct event		*retry;
	struct http_limits	 lim;
	char			 name[16];
	struct http_route	 route[HTTP_ROUTES_MAX];
	size_t			 nroutes;
	TAILQ_HEAD(, http_conn)	 conns;
	struct http_stats	 st;
	size_t			 queued;	/* response bytes not yet
						 * written (HTTP_QUEUED_MAX) */
	int			 spare_fd;	/* given up when out of them */
	time_t			 log_minute;	/* rate limit of accept errors */
	unsigned		 log_lines;
	unsigned long		 log_suppressed;
};

struct http_limits
http_limits_default(void)
{
	struct http_limits l = {HTTP_CONNECTIONS_DEFAULT, HTTP_HEAD_MAX,
	    HTTP_BODY_MAX, HTTP_TIMEOUT_S, HTTP_REQUESTS_PER_CONNECTION};

	return l;
}

/* ---- The pure part: finding and parsing a request head. ---- */

size_t
http_head_end(const char *buf, size_t len)
{
	size_t i;

	/* A blank line ends the head: CRLF CRLF, or bare LFs (RFC 9112
	 * §2.2 lets a server accept LF alone). */
	for (i = 0; i < len; i++)
		if (buf[i] == '\n') {
			if (i + 1 < len && buf[i + 1] == '\n')
				return i + 2;
			if (i + 2 < len && buf[i + 1] == '\r' &&
			    buf[i + 2] == '\n')
				return i + 3;
		}
	return 0;
}

/* RFC 9110 §5.6.2 token characters. */
static int
is_tchar(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || (c != 0 && strchr("!#$%&'*+-.^_`|~",
	    c) != NULL);
}

/* Cuts the next line off *p (through LF, a CR before it dropped). */
static char *
next_line(char **p, char *end)
{
	char *s = *p, *nl = memchr(s, '\n', (size_t)(end - s));

	if (nl == NULL)
		return NULL;
	*nl = '\0';
	if (nl > s && nl[-1] == '\r')
		nl[-1] = '\0';
	*p = nl + 1;
	return s;
}

/* "METHOD SP target SP HTTP/1.x" into h; 0 or the status to answer. */
static int
parse_request_line(char *line, struct http_head *h, const char **why)
{
	char *sp1 = strchr(line, ' '), *sp2, *target, *q, *p;

	if (sp1 == NULL || sp1 == line || (sp2 = strchr(sp1 + 1, ' ')) ==
	    NULL || strchr(sp2 + 1, ' ') != NULL) {
		*why = "malformed request line";
		return 400;
	}
	*sp1 = *sp2 = '\0';
	for (p = line; *p; p++)
		if (!is_tchar((unsigned char)*p)) {
			*why = "malformed method";
			return 400;
		}
	if (strncmp(sp2 + 1, "HTTP/", 5) != 0) {
		*why = "not an HTTP request";
		return 400;
	}
	if (strcmp(sp2 + 1, "HTTP/1.1") != 0 && strcmp(sp2 + 1,
	    "HTTP/1.0") != 0) {
		*why = "only HTTP/1.0 and HTTP/1.1";
		return 505;
	}
	h->minor = sp2[8] - '0';
	if (strcmp(line, "GET") == 0)
		h->method = HTTP_GET;
	else if (strcmp(line, "HEAD") == 0)
		h->method = HTTP_HEAD;
	else {
		*why = "only GET and HEAD";
		return 405;
	}
	target = sp1 + 1;
	if (strlen(target) > HTTP_TARGET_MAX) {
		*why = "request target too long";
		return 414;
	}
	if (target[0] != '/') {
		*why = "request target is not a path";
		return 400;
	}
	for (p = target; *p; p++)
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f) {
			*why = "request target holds a control or non-ASCII "
			    "byte";
			return 400;
		}
	h->path = target;
	h->query = "";
	if ((q = strchr(target, '?')) != NULL) {
		*q = '\0';
		h->query = q + 1;
	}
	return 0;
}

/* One "name: value" line into h; 0 or the status to answer. */
static int
parse_header(char *line, struct http_head *h, const char **why)
{
	char *colon = strchr(line, ':'), *v, *e, *p;

	if (line[0] == ' ' || line[0] == '\t') {
		*why = "obsolete line folding";
		return 400;
	}
	if (colon == NULL || colon == line) {
		*why = "malformed header line";
		return 400;
	}
	for (p = line; p < colon; p++)
		if (!is_tchar((unsigned char)*p)) {
			*why = "malformed header name";
			return 400;
		}
	*colon = '\0';
	for (v = colon + 1; *v == ' ' || *v == '\t'; v++)
		;
	for (p = v; *p; p++)
		if (((unsigned char)*p < 0x20 && *p != '\t') || *p == 0x7f) {
			*why = "control character in a header value";
			return 400;
		}
	for (e = p; e > v && (e[-1] == ' ' || e[-1] == '\t'); e--)
		;
	*e = '\0';
	if (h->nheaders == HTTP_HEADERS_MAX) {
		*why = "too many header lines";
		return 413;
	}
	h->name[h->nheaders] = line;
	h->value[h->nheaders++] = v;
	return 0;
}

/* Content-Length, Transfer-Encoding and Connection; 0 or a status. */
static int
head_semantics(struct http_head *h, const char **why)
{
	size_t i;
	int seen_length = 0;

	h->keep_alive = h->minor == 1;
	for (i = 0; i < h->nheaders; i++) {
		const char *n = h->name[i], *v = h->value[i];
		if (strcasecmp(n, "Transfer-Encoding") == 0) {
			*why = "a transfer coding in a request";
			return 501;
		} else if (strcasecmp(n, "Content-Length") == 0) {
			uint64_t x = 0;
			const char *p = v;
			if (*p == '\0') {
				*why = "empty Content-Length";
				return 400;
			}
			for (; *p; p++) {
				if (*p < '0' || *p > '9' || x > UINT64_MAX /
				    20) {
					*why = "bad Content-Length";
					return 400;
				}
				x = x * 10 + (uint64_t)(*p - '0');
			}
			if (seen_length && x != h->content_length) {
				*why = "conflicting Content-Length";
				return 400;
			}
			seen_length = 1;
			h->content_length = x;
		} else if (strcasecmp(n, "Connection") == 0) {
			if (strcasestr(v, "close") != NULL)
				h->keep_alive = 0;
			else if (strcasestr(v, "keep-alive") != NULL)
				h->keep_alive = 1;
		}
	}
	return 0;
}

int
http_parse_head(char *buf, size_t len, struct http_head *h,
    const char **why)
{
	char *p = buf, *end = buf + len, *line;
	int r;

	memset(h, 0, sizeof *h);
	*why = NULL;
	if (memchr(buf, '\0', len) != NULL) {
		*why = "NUL byte in the request head";
		return 400;
	}
	/* RFC 9112 §2.2: ignore at least one empty line before a request. */
	if (len >= 2 && buf[0] == '\r' && buf[1] == '\n')
		p += 2;
	else if (len >= 1 && buf[0] == '\n')
		p++;
	if ((line = next_line(&p, end)) == NULL) {
		*why = "incomplete request head";
		return 400;
	}
	if ((r = parse_request_line(line, h, why)) != 0)
		return r;
	while ((line = next_line(&p, end)) != NULL && *line != '\0')
		if ((r = parse_header(line, h, why)) != 0)
			return r;
	if (line == NULL) {
		*why = "request head does not end in a blank line";
		return 400;
	}
	return head_semantics(h, why);
}

const char *
http_head_get(const struct http_head *h, const char *name)
{
	size_t i;

	for (i = 0; i < h->nheaders; i++)
		if (strcasecmp(h->name[i], name) == 0)
			return h->value[i];
	return NULL;
}

/* ---- Responses. ---- */

static const char *
status_text(int status)
{
	switch (status) {
	case 200: return "OK";
	case 204: return "No Content";
	case 301: return "Moved Permanently";
	case 302: return "Found";
	case 304: return "Not Modified";
	case 400: return "Bad Request";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 413: return "Content Too Large";
	case 414: return "URI Too Long";
	case 429: return "Too Many Requests";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 503: return "Service Unavailable";
	case 505: return "HTTP Version Not Supported";
	default: return "Status";
	}
}

int
http_response_header(struct http_response *r, const char *name,
    const char *value)
{
	size_t room = sizeof r->headers - r->headers_len;
	int n;

	if (strpbrk(name, "\r\n:") != NULL || strpbrk(value, "\r\n") != NULL)
		return -1;
	n = snprintf(r->headers + r->headers_len, room, "%s: %s\r\n", name,
	    value);
	if (n < 0 || (size_t)n >= room) {
		r->headers[r->headers_len] = '\0';
		return -1;
	}
	r->headers_len += (size_t)n;
	return 0;
}

static void	conn_free(struct http_conn *, const char *why);
static void	conn_arm(struct http_conn *);

/* The connection's response is out (or dropped): no longer queued. */
static void
conn_unqueue(struct http_conn *c)
{
	c->srv->queued -= c->queued;
	c->queued = 0;
}

/* Queues the status line, headers and (unless HEAD) the body. */
static void
conn_respond(struct http_conn *c, int head_only, struct http_response *r)
{
	struct evbuffer *out = bufferevent_get_output(c->bev);
	size_t blen = evbuffer_get_length(r->body);

	c->requests++;
	if (c->requests >= c->srv->lim.requests_per_connection)
		c->close_after = 1;
	evbuffer_add_printf(out, "HTTP/1.1 %d %s\r\nContent-Type: %s\r\n"
	    "Content-Length: %zu\r\nCache-Control: %s\r\n"
	    "X-Content-Type-Options: nosniff\r\n%sConnection: %s\r\n\r\n",
	    r->status, status_text(r->status), r->content_type ?
	    r->content_type : "text/plain; charset=utf-8", blen,
	    r->cache_control ? r->cache_control : "no-store", r->headers,
	    c->close_after ? "close" : "keep-alive");
	if (!head_only)
		evbuffer_add_buffer(out, r->body);
	c->queued = evbuffer_get_length(out);
	c->srv->queued += c->queued;
	c->state = HTTP_CONN_WRITING;
	bufferevent_disable(c->bev, EV_READ);
}

/* The listener's own refusal: a one-line text body, then close. */
static void
conn_refuse(struct http_conn *c, int status, const char *why)
{
	struct http_response r;

	memset(&r, 0, sizeof r);
	if ((r.body = evbuffer_new()) == NULL) {
		conn_free(c, "out of memory");
		return;
	}
	r.status = status;
	if (status == 405)
		http_response_header(&r, "Allow", "GET, HEAD");
	evbuffer_add_printf(r.body, "%d %s: %s\n", status, status_text(status),
	    why);
	c->srv->st.refused++;
	c->close_after = 1;
	conn_respond(c, 0, &r);
	evbuffer_free(r.body);
}

static const struct http_route *
route_find(const struct http_server *s, const char *path)
{
	const struct http_route *best = NULL;
	size_t i;

	for (i = 0; i < s->nroutes; i++) {
		const struct http_route *rt = &s->route[i];
		if (rt->prefix ? strncmp(path, rt->path, rt->len) != 0 :
		    strcmp(path, rt->path) != 0)
			continue;
		if (best == NULL || rt->len > best->len)
			best = rt;
	}
	return best;
}

/* A complete request: its handler answers it (404 without one). */
static void
conn_dispatch(struct http_conn *c, const struct http_head *h)
{
	const struct http_route *rt = route_find(c->srv, h->path);
	struct http_request req = {h, c->peer};
	struct http_response r;

	if (rt == NULL) {
		conn_refuse(c, 404, "no such page");
		return;
	}
	memset(&r, 0, sizeof r);
	r.status = 200;
	if ((r.body = evbuffer_new()) == NULL) {
		conn_free(c, "out of memory");
		return;
	}
	rt->cb(&req, &r, rt->arg);
	if (evbuffer_get_length(r.body) > HTTP_RESPONSE_MAX ||
	    r.status < 200 || r.status > 599) {
		evbuffer_free(r.body);
		conn_refuse(c, 500, "handler's response out of bounds");
		return;
	}
	if (c->srv->queued + evbuffer_get_length(r.body) > HTTP_QUEUED_MAX) {
		evbuffer_free(r.body);
		conn_refuse(c, 503, "too many responses not yet read by their "
		    "clients");
		return;
	}
	c->srv->st.requests++;
	if (!h->keep_alive)
		c->close_after = 1;
	conn_respond(c, h->method == HTTP_HEAD, &r);
	evbuffer_free(r.body);
}

/* ---- Connections. ---- */

/* Drains n bytes of the input, wiped first: libevent keeps a drained
 * chunk's bytes until it frees the chunk. */
static void
conn_drain_wiped(struct evbuffer *in, size_t n)
{
	unsigned char *p = evbuffer_pullup(in, (ssize_t)n);

	if (p != NULL)
		mbedtls_platform_zeroize(p, n);
	evbuffer_drain(in, n);
}

/* Reads a head from the input: 1 when one was handled, 0 for more. */
static int
conn_read_head(struct http_conn *c, struct evbuffer *in)
{
	char buf[HTTP_HEAD_MAX + 1];
	size_t len = evbuffer_get_length(in), take, n, end;
	struct http_head h;
	const char *why;
	int status;

	take = len < c->srv->lim.head_max_bytes ? len :
	    c->srv->lim.head_max_bytes;
	if (take > HTTP_HEAD_MAX)
		take = HTTP_HEAD_MAX;
	n = evbuffer_copyout(in, buf, take);
	if ((end = http_head_end(buf, n)) == 0) {
		mbedtls_platform_zeroize(buf, n);
		if (len >= c->srv->lim.head_max_bytes || take == HTTP_HEAD_MAX)
			conn_refuse(c, 413, "request head too long");
		return len >= c->srv->lim.head_max_bytes || take ==
		    HTTP_HEAD_MAX;
	}
	mbedtls_platform_zeroize(buf + end, n - end);	/* the next one's */
	n = end;
	conn_drain_wiped(in, n);
	if ((status = http_parse_head(buf, n, &h, &why)) != 0)
		conn_refuse(c, status, why);
	else if (h.content_length > c->srv->lim.body_max_bytes)
		conn_refuse(c, 413, "request body too long");
	else {
		/* A GET's body means nothing here: answered at once, and
		 * read past (BODY) once the answer is out. */
		c->body_left = h.content_length;
		conn_dispatch(c, &h);
	}
	/* The request may carry what a rider typed (a card number for a
	 * reference): no copy outlives it. */
	mbedtls_platform_zeroize(buf, n);
	mbedtls_platform_zeroize(&h, sizeof h);
	return 1;
}

/* Discards what is left of a body; 1 once it is all read. */
static int
conn_skip_body(struct http_conn *c, struct evbuffer *in)
{
	size_t n = evbuffer_get_length(in), d = n < c->body_left ? n :
	    (size_t)c->body_left;

	conn_drain_wiped(in, d);
	c->body_left -= d;
	return c->body_left == 0;
}

static void
conn_read_cb(struct bufferevent *bev, void *arg)
{
	struct http_conn *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);

	assert(c->state >= 0 && c->state < HTTP_CONN_STATE_MAX);
	switch (c->state) {
	case HTTP_CONN_BODY:
		if (!conn_skip_body(c, in))
			return;
		c->state = HTTP_CONN_HEAD;
		if (evbuffer_get_length(in) > 0)
			conn_read_head(c, in);	/* a pipelined request */
		break;
	case HTTP_CONN_HEAD:
		conn_read_head(c, in);
		break;
	case HTTP_CONN_WRITING:
	case HTTP_CONN_STATE_MAX:
		break;
	}
}

/* The response is out: close, or read on (what is left of the body,
 * then the next request). */
static void
conn_write_cb(struct bufferevent *bev, void *arg)
{
	struct http_conn *c = arg;
	struct http_server *s = c->srv;

	if (c->state != HTTP_CONN_WRITING)
		return;
	conn_unqueue(c);
	if (c->close_after) {
		conn_free(c, NULL);
		return;
	}
	c->state = c->body_left > 0 ? HTTP_CONN_BODY : HTTP_CONN_HEAD;
	TAILQ_REMOVE(&s->conns, c, link);
	TAILQ_INSERT_TAIL(&s->conns, c, link);
	conn_arm(c);
	bufferevent_enable(bev, EV_READ);
	if (evbuffer_get_length(bufferevent_get_input(bev)) > 0)
		conn_read_cb(bev, c);
}

static void
conn_event_cb(struct bufferevent *bev, short what, void *arg)
{
	(void)bev;
	conn_free(arg, what & BEV_EVENT_EOF ? NULL : "connection error");
}

static void
conn_deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	struct http_conn *c = arg;

	(void)fd;
	(void)what;
	c->srv->st.timeouts++;
	conn_free(c, NULL);
}

static void
conn_arm(struct http_conn *c)
{
	struct timeval tv = {c->srv->lim.timeout_s, 0};

	evtimer_add(c->deadline, &tv);
}

static void
conn_free(struct http_conn *c, const char *why)
{
	struct http_server *s = c->srv;

	(void)why;
	conn_unqueue(c);
	TAILQ_REMOVE(&s->conns, c, link);
	s->st.connections--;
	event_free(c->deadline);
	bufferevent_free(c->bev);
	free(c);
	if (s->spare_fd < 0)
		s->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
}

/* ---- The listener. ---- */

/* At most LOG_BURST_PER_MINUTE lines a minute; the rest are counted. */
static int
log_allowed(struct http_server *s)
{
	time_t now = time(NULL);

	if (now / 60 != s->log_minute) {
		if (s->log_suppressed > 0)
			log_warning("log_lines_suppressed", "what=%s lines=%lu "
			    "msg=\"accept errors not logged in the last "
			    "minute\"", LOGQ(s->name), s->log_suppressed);
		s->log_minute = now / 60;
		s->log_lines = 0;
		s->log_suppressed = 0;
	}
	if (s->log_lines >= LOG_BURST_PER_MINUTE) {
		s->log_suppressed++;
		return 0;
	}
	s->log_lines++;
	return 1;
}

static void
accept_cb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
    int socklen, void *arg)
{
	struct http_server *s = arg;
	struct http_conn *c;

	(void)l;
	(void)socklen;
	if (s->st.connections >= s->lim.max_connections) {
		s->st.evicted++;
		conn_free(TAILQ_FIRST(&s->conns), "connection cap");
	}
	if ((c = calloc(1, sizeof *c)) == NULL) {
		close(fd);
		return;
	}
	c->srv = s;
	if (sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((struct sockaddr_in *)(void *)sa)->sin_addr,
		    c->peer, sizeof c->peer);
	c->bev = bufferevent_socket_new(s->base, fd, BEV_OPT_CLOSE_ON_FREE);
	c->deadline = evtimer_new(s->base, conn_deadline_cb, c);
	if (c->bev == NULL || c->deadline == NULL) {
		if (c->bev != NULL)
			bufferevent_free(c->bev);
		else
			close(fd);
		if (c->deadline != NULL)
			event_free(c->deadline);
		free(c);
		return;
	}
	/* The input never holds more than a head (and what follows it). */
	bufferevent_setwatermark(c->bev, EV_READ, 0, s->lim.head_max_bytes + 1);
	bufferevent_setcb(c->bev, conn_read_cb, conn_write_cb, conn_event_cb,
	    c);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	TAILQ_INSERT_TAIL(&s->conns, c, link);
	s->st.connections++;
	s->st.accepted++;
	conn_arm(c);
}

static void
retry_cb(evutil_socket_t fd, short what, void *arg)
{
	struct http_server *s = arg;

	(void)fd;
	(void)what;
	s->st.paused = 0;
	evconnlistener_enable(s->listener);
}

/*
 * EMFILE and friends: pause accepting for a second instead of spinning.
 * With descriptors gone, the spare one is given up for one connection
 * first, so that a health probe still learns that something is wrong.
 */
static void
accept_error_cb(struct evconnlistener *l, void *arg)
{
	struct http_server *s = arg;
	struct timeval one = {1, 0};
	int e = errno;

	s->st.accept_errors++;
	if (log_allowed(s))
		log_warning("accept_failed", "listener=%s error=%s "
		    "msg=\"pausing accept for a second\"", LOGQ(s->name),
		    LOGQ(strerror(e)));
	evconnlistener_disable(l);
	s->st.paused = 1;
	evtimer_add(s->retry, &one);
	if ((e == EMFILE || e == ENFILE) && s->spare_fd >= 0) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof ss;
		int fd;
		close(s->spare_fd);
		s->spare_fd = -1;
		fd = accept4(evconnlistener_get_fd(l), (struct sockaddr *)&ss,
		    &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd >= 0)
			accept_cb(l, fd, (struct sockaddr *)&ss, (int)sl, s);
	}
}

struct http_server *
http_listen(struct event_base *base, const char *name, const char *hostport,
    const struct http_limits *lim, char *err, size_t errlen)
{
	struct http_server *s;
	struct sockaddr_in sin;

	if (wire_parse_addr(hostport, &sin) == -1) {
		snprintf(err, errlen, "%s %s: not HOST:PORT", name, hostport);
		return NULL;
	}
	if (lim->max_connections < 1 || lim->head_max_bytes < 64 ||
	    lim->head_max_bytes > HTTP_HEAD_MAX || lim->timeout_s < 1 ||
	    lim->requests_per_connection < 1) {
		snprintf(err, errlen, "%s: limits out of range", name);
		return NULL;
	}
	if ((s = calloc(1, sizeof *s)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	s->base = base;
	s->lim = *lim;
	snprintf(s->name, sizeof s->name, "%s", name);
	TAILQ_INIT(&s->conns);
	s->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	s->retry = evtimer_new(base, retry_cb, s);
	s->listener = evconnlistener_new_bind(base, accept_cb, s,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC,
	    128, (struct sockaddr *)&sin, sizeof sin);
	if (s->retry == NULL || s->listener == NULL) {
		snprintf(err, errlen, "cannot serve %s on %s: %s", name,
		    hostport, strerror(errno));
		http_free(s);
		return NULL;
	}
	evconnlistener_set_error_cb(s->listener, accept_error_cb);
	return s;
}

int
http_route(struct http_server *s, const char *path, http_handler_cb cb,
    void *arg)
{
	struct http_route *rt;

	if (s->nroutes == HTTP_ROUTES_MAX || path[0] != '/')
		return -1;
	rt = &s->route[s->nroutes];
	if ((rt->path = strdup(path)) == NULL)
		return -1;
	rt->len = strlen(path);
	rt->prefix = path[rt->len - 1] == '/' && rt->len > 1;
	rt->cb = cb;
	rt->arg = arg;
	s->nroutes++;
	return 0;
}

void
http_get_stats(const struct http_server *s, struct http_stats *st)
{
	*st = s->st;
}

void
http_free(struct http_server *s)
{
	size_t i;

	if (s == NULL)
		return;
	while (!TAILQ_EMPTY(&s->conns))
		conn_free(TAILQ_FIRST(&s->conns), NULL);
	if (s->listener != NULL)
		evconnlistener_free(s->listener);
	if (s->retry != NULL)
		event_free(s->retry);
	for (i = 0; i < s->nroutes; i++)
		free(s->route[i].path);
	if (s->spare_fd >= 0)
		close(s->spare_fd);
	free(s);
}
