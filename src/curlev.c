/*
 * curlev.c: libcurl's multi interface driven by the daemon's libevent
 * loop.  A user makes one multi handle (curlev_new) and adds easy
 * handles it has set up (curlev_add), each with a callback called once,
 * from the loop, when its transfer ends; curlev_remove takes one back
 * before that.  The easy handle stays its user's to clean up.
 */

#include <sys/types.h>

#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <event2/event.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "curlev.h"
#include "log.h"
#include "sbxd.h"

struct curlev {
	CURLM			*cv_multi;
	struct event_base	*cv_base;
	struct event		*cv_timer;
};

/* What an easy handle's CURLOPT_PRIVATE points to while it runs. */
struct curlev_xfer {
	curlev_cb		 cx_cb;
	void			*cx_arg;
};

static int	curlev_sockcb(CURL *, curl_socket_t, int, void *, void *);
static int	curlev_timerfn(CURLM *, long, void *);
static void	curlev_eventcb(evutil_socket_t, short, void *);
static void	curlev_timercb(evutil_socket_t, short, void *);
static void	curlev_done(struct curlev *);

/* A multi handle on base, keeping up to maxconns idle connections. */
struct curlev *
curlev_new(struct event_base *base, long maxconns)
{
	struct curlev	*cv;

	if ((cv = calloc(1, sizeof(*cv))) == NULL)
		return (NULL);
	cv->cv_base = base;
	if ((cv->cv_multi = curl_multi_init()) == NULL ||
	    (cv->cv_timer = evtimer_new(base, curlev_timercb, cv)) == NULL) {
		curlev_free(cv);
		return (NULL);
	}
	curl_multi_setopt(cv->cv_multi, CURLMOPT_SOCKETFUNCTION,
	    curlev_sockcb);
	curl_multi_setopt(cv->cv_multi, CURLMOPT_SOCKETDATA, cv);
	curl_multi_setopt(cv->cv_multi, CURLMOPT_TIMERFUNCTION,
	    curlev_timerfn);
	curl_multi_setopt(cv->cv_multi, CURLMOPT_TIMERDATA, cv);
	curl_multi_setopt(cv->cv_multi, CURLMOPT_MAXCONNECTS, maxconns);
	return (cv);
}

/* The multi handle goes; its transfers must have been removed. */
void
curlev_free(struct curlev *cv)
{
	if (cv == NULL)
		return;
	if (cv->cv_multi != NULL)
		curl_multi_cleanup(cv->cv_multi);
	if (cv->cv_timer != NULL)
		event_free(cv->cv_timer);
	free(cv);
}

/* Run e; cb(e, result, arg) once it ends.  -1: not started. */
int
curlev_add(struct curlev *cv, CURL *e, curlev_cb cb, void *arg)
{
	struct curlev_xfer	*cx;

	if ((cx = calloc(1, sizeof(*cx))) == NULL)
		return (-1);
	cx->cx_cb = cb;
	cx->cx_arg = arg;
	curl_easy_setopt(e, CURLOPT_PRIVATE, cx);
	if (curl_multi_add_handle(cv->cv_multi, e) != CURLM_OK) {
		curl_easy_setopt(e, CURLOPT_PRIVATE, NULL);
		free(cx);
		return (-1);
	}
	return (0);
}

/* Stop e before its end: its callback is not called. */
void
curlev_remove(struct curlev *cv, CURL *e)
{
	struct curlev_xfer	*cx = NULL;

	curl_easy_getinfo(e, CURLINFO_PRIVATE, (char **)&cx);
	curl_multi_remove_handle(cv->cv_multi, e);
	curl_easy_setopt(e, CURLOPT_PRIVATE, NULL);
	free(cx);
}

/*
 * A CURLOPT_SSL_CTX_FUNCTION: the certificates of the PEM text arg as
 * trust anchors beside the system's (a ca-file).
 */
CURLcode
curlev_ca(CURL *e __unused, void *sslctx, void *arg)
{
	X509_STORE	*st = SSL_CTX_get_cert_store(sslctx);
	BIO		*bio;
	X509		*x;

	if ((bio = BIO_new_mem_buf(arg, -1)) == NULL)
		return (CURLE_OUT_OF_MEMORY);
	while ((x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
		(void)X509_STORE_add_cert(st, x);	/* a duplicate is fine */
		X509_free(x);
	}
	ERR_clear_error();
	BIO_free(bio);
	return (CURLE_OK);
}

/* Free a header list that held a secret: its strings are wiped first. */
void
curlev_slist_free(struct curl_slist *l)
{
	struct curl_slist	*s;

	for (s = l; s != NULL; s = s->next)
		util_zero(s->data, strlen(s->data));
	curl_slist_free_all(l);
}

/* curl: watch socket s for what, or stop watching it. */
static int
curlev_sockcb(CURL *e __unused, curl_socket_t s, int what, void *arg,
    void *sockp)
{
	struct curlev	*cv = arg;
	struct event	*ev = sockp;
	short		 kind;

	if (what == CURL_POLL_REMOVE) {
		if (ev != NULL)
			event_free(ev);
		curl_multi_assign(cv->cv_multi, s, NULL);
		return (0);
	}
	kind = EV_PERSIST | ((what & CURL_POLL_IN) ? EV_READ : 0) |
	    ((what & CURL_POLL_OUT) ? EV_WRITE : 0);
	if (ev == NULL) {
		if ((ev = event_new(cv->cv_base, s, kind, curlev_eventcb,
		    cv)) == NULL)
			return (-1);
		curl_multi_assign(cv->cv_multi, s, ev);
	} else {
		event_del(ev);
		event_assign(ev, cv->cv_base, s, kind, curlev_eventcb, cv);
	}
	event_add(ev, NULL);
	return (0);
}

/* curl: call back in ms (-1: never). */
static int
curlev_timerfn(CURLM *m __unused, long ms, void *arg)
{
	struct curlev	*cv = arg;
	struct timeval	 tv;

	if (ms < 0) {
		evtimer_del(cv->cv_timer);
		return (0);
	}
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	evtimer_add(cv->cv_timer, &tv);
	return (0);
}

static void
curlev_eventcb(evutil_socket_t fd, short events, void *arg)
{
	struct curlev	*cv = arg;
	int		 running, flags = 0;

	if (events & EV_READ)
		flags |= CURL_CSELECT_IN;
	if (events & EV_WRITE)
		flags |= CURL_CSELECT_OUT;
	curl_multi_socket_action(cv->cv_multi, fd, flags, &running);
	curlev_done(cv);
}

static void
curlev_timercb(evutil_socket_t fd __unused, short events __unused,
    void *arg)
{
	struct curlev	*cv = arg;
	int		 running;

	curl_multi_socket_action(cv->cv_multi, CURL_SOCKET_TIMEOUT, 0,
	    &running);
	curlev_done(cv);
}

/* Each ended transfer leaves the multi handle, then its callback runs. */
static void
curlev_done(struct curlev *cv)
{
	struct curlev_xfer	*cx;
	CURLMsg			*msg;
	CURLcode		 result;
	CURL			*e;
	curlev_cb		 cb;
	void			*arg;
	int			 left;

	while ((msg = curl_multi_info_read(cv->cv_multi, &left)) != NULL) {
		if (msg->msg != CURLMSG_DONE)
			continue;
		e = msg->easy_handle;
		result = msg->data.result;
		cx = NULL;
		curl_easy_getinfo(e, CURLINFO_PRIVATE, (char **)&cx);
		curl_multi_remove_handle(cv->cv_multi, e);
		curl_easy_setopt(e, CURLOPT_PRIVATE, NULL);
		if (cx == NULL)
			continue;
		cb = cx->cx_cb;
		arg = cx->cx_arg;
		free(cx);
		cb(e, result, arg);
	}
}
