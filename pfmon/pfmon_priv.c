/*
 * pfmon_priv.c: the capture of the firewall's log, opened by the
 * privileged process (NFLOG and pflog want root) and handed to the
 * engine, which decodes it.  The records cross a socket pair in
 * batches, as libpcap gave them, never looked into here: a record is
 * copied by its caplen, nothing else of it is read (the wire format is
 * in pfmon.h).  A batch the engine does not take at once is dropped
 * and counted, as the kernel counts its own drops, so that a flood
 * never blocks the privileged process; the counts reach the engine
 * about once a second.  When sbxd is one process this runs on the same
 * loop as the engine's side, and the pair carries the records all the
 * same.
 */

#include <sys/types.h>
#include <sys/socket.h>

#include <errno.h>
#include <pcap.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/util.h>
#include <jansson.h>

#include "config.h"
#include "log.h"
#include "pfmon.h"
#include "sbxd.h"

#define PFMON_CAP_DISPATCH	1024	/* records per readable event */
#define PFMON_CAP_SOCKBUF	(8 * 1024 * 1024) /* the engine's backlog:
					   a second of a flood's batches */
#define PFMON_CAP_STATS_SECS	1	/* between statistics reports */

/* The one capture, the engine's. */
struct pfmon_cap {
	char			 pc_name[PFMON_IFACE_MAX];
	pcap_t			*pc_pcap;
	int			 pc_sock;	/* ours of the pair */
	int			 pc_gone;	/* the engine's end closed:
						   close after the dispatch */
	struct event		*pc_ev_pcap;
	struct event		*pc_ev_sock;	/* the engine's end closed */
	struct event		*pc_ev_stats;
	u_char			*pc_batch;	/* header, then records */
	size_t			 pc_len;
	uint32_t		 pc_count;	/* records in the batch */
	uint64_t		 pc_slow;	/* records dropped: the engine
						   had not read */
	struct pfmon_capstats	 pc_sent;	/* last report sent */
};

static struct pfmon_cap	*pfmon_cap;

static int	pfmon_cap_open(const char *, int, int *, char *, size_t);
static int	pfmon_cap_activate(struct pfmon_cap *, int, char *, size_t);
static int	pfmon_cap_pair(struct pfmon_cap *, int *, char *, size_t);
static void	pfmon_cap_close(const char *);
static void	pfmon_cap_pcapcb(evutil_socket_t, short, void *);
static void	pfmon_cap_record(u_char *, const struct pcap_pkthdr *,
		    const u_char *);
static void	pfmon_cap_flush(void);
static int	pfmon_cap_send(const void *, size_t);
static void	pfmon_cap_sockcb(evutil_socket_t, short, void *);
static void	pfmon_cap_statscb(evutil_socket_t, short, void *);

/*
 * "capture" {"interface": NAME, "buffer": BYTES}: open the pfmon
 * interface of the privileged process's config and reply {"dlt",
 * "snaplen"} with the engine's end of a socket pair that carries its
 * records.  A capture already open (a former engine's) is closed
 * first: there is one interface.
 */
void
pfmon_priv_capture(struct priv_req *pr, json_t *args, int *fds, int nfds)
{
	const struct pfmon_conf	*pm = &priv_conf()->sc_pfmon;
	json_error_t		 jerr;
	const char		*name;
	char			 err[PCAP_ERRBUF_SIZE + 64];
	int			 buffer, fd;

	while (nfds > 0)
		close(fds[--nfds]);
	if (json_unpack_ex(args, &jerr, 0, "{s:s, s:i !}", "interface",
	    &name, "buffer", &buffer) == -1) {
		priv_refuse(pr, "bad arguments: %s", jerr.text);
		return;
	}
	if (pm->pm_interface == NULL) {
		priv_refuse(pr, "pfmon has no interface in the config");
		return;
	}
	if (strcmp(name, pm->pm_interface) != 0) {
		priv_refuse(pr, "interface %s is not the pfmon interface of "
		    "the config, %s", name, pm->pm_interface);
		return;
	}
	if (buffer < PFMON_BUFFER_MIN || buffer > PFMON_BUFFER_LIMIT) {
		priv_refuse(pr, "buffer %d is outside %d-%d", buffer,
		    PFMON_BUFFER_MIN, PFMON_BUFFER_LIMIT);
		return;
	}
	pfmon_cap_close("a new capture is asked for");
	if (pfmon_cap_open(name, buffer, &fd, err, sizeof(err)) == -1) {
		pfmon_cap_close(NULL);
		/*
		 * Not a refusal: the request was right and the engine
		 * retries every few seconds, logging each new error once.
		 */
		priv_reply(pr, json_pack("{s:s}", "error", err), NULL, 0);
		return;
	}
	priv_reply(pr, json_pack("{s:i, s:i}", "dlt",
	    pcap_datalink(pfmon_cap->pc_pcap), "snaplen",
	    pcap_snapshot(pfmon_cap->pc_pcap)), &fd, 1);
}

/* The capture and the pair; the engine's end in *fdp.  -1 and err. */
static int
pfmon_cap_open(const char *name, int buffer, int *fdp, char *err,
    size_t errlen)
{
	struct pfmon_cap	*pc;
	struct timeval		 tv = { PFMON_CAP_STATS_SECS, 0 };
	int			 fd;

	if ((pc = calloc(1, sizeof(*pc))) == NULL)
		return (util_err(err, errlen, "out of memory"));
	pc->pc_sock = -1;
	pfmon_cap = pc;
	snprintf(pc->pc_name, sizeof(pc->pc_name), "%s", name);
	if ((pc->pc_batch = malloc(PFMON_CAP_BATCH)) == NULL)
		return (util_err(err, errlen, "out of memory"));
	if (pfmon_cap_activate(pc, buffer, err, errlen) == -1)
		return (-1);
	if ((fd = pcap_get_selectable_fd(pc->pc_pcap)) == -1)
		return (util_err(err, errlen, "no selectable descriptor"));
	if ((pc->pc_ev_pcap = event_new(sbxd_env->sx_base, fd,
	    EV_READ | EV_PERSIST, pfmon_cap_pcapcb, NULL)) == NULL ||
	    (pc->pc_ev_stats = event_new(sbxd_env->sx_base, -1, EV_PERSIST,
	    pfmon_cap_statscb, NULL)) == NULL)
		return (util_err(err, errlen, "out of memory"));
	if (pfmon_cap_pair(pc, fdp, err, errlen) == -1)
		return (-1);
	if (event_add(pc->pc_ev_pcap, NULL) == -1 ||
	    event_add(pc->pc_ev_sock, NULL) == -1 ||
	    event_add(pc->pc_ev_stats, &tv) == -1) {
		close(*fdp);
		return (util_err(err, errlen, "cannot watch the capture"));
	}
	log_info("pfmon: %s: capturing for the engine", name);
	return (0);
}

/* pcap_create through pcap_activate, nonblocking; -1 and err. */
static int
pfmon_cap_activate(struct pfmon_cap *pc, int buffer, char *err,
    size_t errlen)
{
	char		 ebuf[PCAP_ERRBUF_SIZE];
	const char	*e, *st;
	int		 r;

	if ((pc->pc_pcap = pcap_create(pc->pc_name, ebuf)) == NULL)
		return (util_err(err, errlen, "%s", ebuf));
	if (pcap_set_immediate_mode(pc->pc_pcap, 1) != 0 ||
	    pcap_set_buffer_size(pc->pc_pcap, buffer) != 0 ||
	    pcap_set_snaplen(pc->pc_pcap, PFMON_SNAPLEN) != 0)
		return (util_err(err, errlen, "cannot set capture options"));
	if ((r = pcap_activate(pc->pc_pcap)) < 0) {
		/* pcap_geterr is empty or the status for some errors. */
		e = pcap_geterr(pc->pc_pcap);
		st = pcap_statustostr(r);
		if (*e == '\0' || strcmp(e, st) == 0)
			return (util_err(err, errlen, "%s", st));
		return (util_err(err, errlen, "%s: %s", st, e));
	}
	if (r > 0)
		log_warnx("pfmon: %s: %s: %s", pc->pc_name,
		    pcap_statustostr(r), pcap_geterr(pc->pc_pcap));
	if (pcap_setnonblock(pc->pc_pcap, 1, ebuf) == -1)
		return (util_err(err, errlen, "%s", ebuf));
	return (0);
}

/*
 * The socket pair: ours nonblocking with room for a backlog, watched for
 * the engine's end closing; the engine's in *fdp.  -1 and err.
 */
static int
pfmon_cap_pair(struct pfmon_cap *pc, int *fdp, char *err, size_t errlen)
{
	int	 sp[2], size = PFMON_CAP_SOCKBUF;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) == -1)
		return (util_err(err, errlen, "socketpair: %s",
		    strerror(errno)));
	pc->pc_sock = sp[0];
	/* Root may pass net.core.wmem_max: the backlog a flood needs. */
#ifdef SO_SNDBUFFORCE
	if (setsockopt(sp[0], SOL_SOCKET, SO_SNDBUFFORCE, &size,
	    sizeof(size)) == -1)
#endif
		(void)setsockopt(sp[0], SOL_SOCKET, SO_SNDBUF, &size,
		    sizeof(size));
	if (evutil_make_socket_nonblocking(sp[0]) == -1 ||
	    (pc->pc_ev_sock = event_new(sbxd_env->sx_base, sp[0],
	    EV_READ | EV_PERSIST, pfmon_cap_sockcb, NULL)) == NULL) {
		close(sp[1]);
		return (util_err(err, errlen, "cannot watch the socket pair"));
	}
	*fdp = sp[1];
	return (0);
}

/* The only teardown, safe on a half-built capture; why may be NULL. */
static void
pfmon_cap_close(const char *why)
{
	struct pfmon_cap	*pc = pfmon_cap;

	if (pc == NULL)
		return;
	if (why != NULL)
		log_info("pfmon: %s: capture closed: %s", pc->pc_name, why);
	if (pc->pc_ev_pcap != NULL)
		event_free(pc->pc_ev_pcap);
	if (pc->pc_ev_sock != NULL)
		event_free(pc->pc_ev_sock);
	if (pc->pc_ev_stats != NULL)
		event_free(pc->pc_ev_stats);
	if (pc->pc_pcap != NULL)
		pcap_close(pc->pc_pcap);
	if (pc->pc_sock != -1)
		close(pc->pc_sock);
	free(pc->pc_batch);
	free(pc);
	pfmon_cap = NULL;
}

/* At the privileged process's end. */
void
pfmon_priv_shutdown(void)
{
	pfmon_cap_close(NULL);
}

/* Records into batches; the last, partly full, goes at the end. */
static void
pfmon_cap_pcapcb(evutil_socket_t fd __unused, short events __unused,
    void *arg __unused)
{
	struct pfmon_cap	*pc = pfmon_cap;
	char			 why[PCAP_ERRBUF_SIZE + 16];

	if (pcap_dispatch(pc->pc_pcap, PFMON_CAP_DISPATCH, pfmon_cap_record,
	    NULL) == -1) {
		/* The engine sees its end close, and asks again later. */
		snprintf(why, sizeof(why), "read: %s",
		    pcap_geterr(pc->pc_pcap));
		log_warnx("pfmon: %s: %s", pc->pc_name, why);
		pfmon_cap_close(why);
		return;
	}
	pfmon_cap_flush();
	if (pc->pc_gone)
		pfmon_cap_close("the engine closed its end");
}

/*
 * One record into the batch, a full batch sent first.  Inside
 * pcap_dispatch: nothing here may close the capture.
 */
static void
pfmon_cap_record(u_char *arg __unused, const struct pcap_pkthdr *h,
    const u_char *pkt)
{
	struct pfmon_cap	*pc = pfmon_cap;
	struct pfmon_caprec	 cr;
	size_t			 need = sizeof(cr) + h->caplen;

	/* libpcap keeps caplen within the snap length. */
	if (pc->pc_gone || h->caplen > PFMON_SNAPLEN)
		return;
	if (pc->pc_len + need > PFMON_CAP_BATCH)
		pfmon_cap_flush();
	if (pc->pc_len == 0)
		pc->pc_len = sizeof(struct pfmon_caphdr);
	memset(&cr, 0, sizeof(cr));
	cr.cr_sec = (uint64_t)h->ts.tv_sec;
	cr.cr_usec = (uint32_t)h->ts.tv_usec;
	cr.cr_caplen = h->caplen;
	cr.cr_len = h->len;
	memcpy(pc->pc_batch + pc->pc_len, &cr, sizeof(cr));
	memcpy(pc->pc_batch + pc->pc_len + sizeof(cr), pkt, h->caplen);
	pc->pc_len += need;
	pc->pc_count++;
}

/* Send the batch, or drop it and count its records: never wait. */
static void
pfmon_cap_flush(void)
{
	struct pfmon_cap	*pc = pfmon_cap;
	struct pfmon_caphdr	 ch;

	if (pc->pc_count == 0)
		return;
	ch.ch_tag = PFMON_CAP_RECORDS;
	ch.ch_count = pc->pc_count;
	memcpy(pc->pc_batch, &ch, sizeof(ch));
	if (pfmon_cap_send(pc->pc_batch, pc->pc_len) == -1)
		pc->pc_slow += pc->pc_count;
	pc->pc_len = 0;
	pc->pc_count = 0;
}

/*
 * One packet to the engine without waiting: 0, or -1 if it was not
 * sent (pc_gone set if the engine's end is closed).
 */
static int
pfmon_cap_send(const void *buf, size_t len)
{
	struct pfmon_cap	*pc = pfmon_cap;
	ssize_t			 n;

	if (pc->pc_gone)
		return (-1);
	while ((n = send(pc->pc_sock, buf, len, MSG_DONTWAIT |
	    MSG_NOSIGNAL)) == -1 && errno == EINTR)
		;
	if (n != -1)
		return (0);
	if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS)
		return (-1);		/* the engine is behind */
	if (errno != EPIPE && errno != ECONNRESET && errno != ENOTCONN)
		log_warn("pfmon: %s: send to the engine", pc->pc_name);
	pc->pc_gone = 1;
	return (-1);
}

/* The engine never writes: its end closed, or it breaks the rules. */
static void
pfmon_cap_sockcb(evutil_socket_t fd, short events __unused,
    void *arg __unused)
{
	char	 c;
	ssize_t	 n;

	if ((n = recv(fd, &c, sizeof(c), MSG_DONTWAIT)) == -1 &&
	    (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return;
	pfmon_cap_close(n > 0 ? "the engine wrote to it" :
	    "the engine closed its end");
}

/*
 * About once a second, if a count changed: the kernel's counters and
 * the records dropped because the engine was behind.  A report that
 * cannot go now goes at the next tick.
 */
static void
pfmon_cap_statscb(evutil_socket_t fd __unused, short events __unused,
    void *arg __unused)
{
	struct pfmon_cap	*pc = pfmon_cap;
	struct pfmon_capstats	 cs;
	struct pcap_stat	 ps;

	memset(&cs, 0, sizeof(cs));
	cs.cs_tag = PFMON_CAP_STATS;
	if (pcap_stats(pc->pc_pcap, &ps) == 0) {
		cs.cs_recv = ps.ps_recv;
		cs.cs_drop = ps.ps_drop;
		cs.cs_ifdrop = ps.ps_ifdrop;
	} else {
		cs.cs_recv = pc->pc_sent.cs_recv;
		cs.cs_drop = pc->pc_sent.cs_drop;
		cs.cs_ifdrop = pc->pc_sent.cs_ifdrop;
	}
	cs.cs_slow = pc->pc_slow;
	if (memcmp(&cs, &pc->pc_sent, sizeof(cs)) == 0)
		return;
	if (pfmon_cap_send(&cs, sizeof(cs)) == 0)
		pc->pc_sent = cs;
	else if (pc->pc_gone)
		pfmon_cap_close("the engine closed its end");
}
