/*
 * pfmon_priv.c: the capture of the firewall's log, opened by the
 * privileged process (NFLOG and pflog want root) and handed to the
 * engine, which decodes it: the records cross a socket pair, in
 * batches, as they came, never looked into here.  A batch the engine
 * does not take at once is dropped and counted, as the kernel counts
 * its own drops, so that a flood never blocks the privileged process.
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
#define PFMON_CAP_SOCKBUF	(8 * 1024 * 1024) /* the engine's backlog */

struct pfmon_cap {
	pcap_t		*pc_pcap;
	int		 pc_sock;	/* ours of the pair */
	struct event	*pc_ev_pcap;
	struct event	*pc_ev_sock;	/* the engine's end closed */
	struct event	*pc_ev_stats;
	unsigned char	*pc_batch;	/* tag, then records */
	size_t		 pc_len;
	uint64_t	 pc_nrec;	/* records in the batch */
	uint64_t	 pc_slow;	/* records dropped: the engine */
	struct pfmon_capstats pc_sent;	/* last stats sent */
};

static struct pfmon_cap	*pfmon_cap;

static void	pfmon_cap_close(void);
static int	pfmon_cap_open(const char *, int, int *, char *, size_t);
static void	pfmon_cap_pcapcb(evutil_socket_t, short, void *);
static void	pfmon_cap_record(u_char *, const struct pcap_pkthdr *,
		    const u_char *);
static void	pfmon_cap_flush(void);
static void	pfmon_cap_sockcb(evutil_socket_t, short, void *);
static void	pfmon_cap_statscb(evutil_socket_t, short, void *);

/*
 * "capture": open the interface of the config and reply with the
 * engine's end of a socket pair that carries its records.  A capture
 * already open (a former engine's) is closed first.
 */
void
pfmon_priv_capture(struct priv_req *pr, json_t *args, int *fds, int nfds)
{
	const struct pfmon_conf	*pm = &priv_conf()->sc_pfmon;
	const char		*name;
	char			 err[PCAP_ERRBUF_SIZE + 64];
	int			 buffer, dlt, fd;

	while (nfds > 0)
		close(fds[--nfds]);
	if (json_unpack(args, "{s:s, s:i !}", "interface", &name, "buffer",
	    &buffer) == -1) {
		priv_refuse(pr, "bad arguments: want interface and buffer");
		return;
	}
	if (pm->pm_interface == NULL || strcmp(name, pm->pm_interface) != 0) {
		priv_refuse(pr, "%s is not the pfmon interface of the config",
		    name);
		return;
	}
	if (buffer < PFMON_BUFFER_MIN || buffer > PFMON_BUFFER_LIMIT) {
		priv_refuse(pr, "buffer %d is out of range", buffer);
		return;
	}
	pfmon_cap_close();
	if (pfmon_cap_open(name, buffer, &fd, err, sizeof(err)) == -1) {
		pfmon_cap_close();
		/* Not a refusal: the engine retries, as with any error. */
		priv_reply(pr, json_pack("{s:s}", "error", err), NULL, 0);
		return;
	}
	dlt = pcap_datalink(pfmon_cap->pc_pcap);
	priv_reply(pr, json_pack("{s:i}", "dlt", dlt), &fd, 1);
}

static int
pfmon_cap_open(const char *name, int buffer, int *fdp, char *err,
    size_t errlen)
{
	struct pfmon_cap	*pc;
	struct timeval		 tv = { 1, 0 };
	const char		*e, *st;
	int			 sp[2], r, fd, size = PFMON_CAP_SOCKBUF;

	if ((pc = calloc(1, sizeof(*pc))) == NULL ||
	    (pc->pc_batch = malloc(PFMON_CAP_BATCH)) == NULL) {
		free(pc);
		return (util_err(err, errlen, "out of memory"));
	}
	pc->pc_sock = -1;
	pfmon_cap = pc;
	if ((pc->pc_pcap = pcap_create(name, err)) == NULL)
		return (-1);
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
		log_warnx("pfmon: %s: %s: %s", name, pcap_statustostr(r),
		    pcap_geterr(pc->pc_pcap));
	if (pcap_setnonblock(pc->pc_pcap, 1, err) == -1)
		return (-1);
	if ((fd = pcap_get_selectable_fd(pc->pc_pcap)) == -1)
		return (util_err(err, errlen, "no selectable descriptor"));
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) == -1)
		return (util_err(err, errlen, "socketpair: %s",
		    strerror(errno)));
	pc->pc_sock = sp[0];
#ifdef SO_SNDBUFFORCE
	if (setsockopt(sp[0], SOL_SOCKET, SO_SNDBUFFORCE, &size,
	    sizeof(size)) == -1)
#endif
		(void)setsockopt(sp[0], SOL_SOCKET, SO_SNDBUF, &size,
		    sizeof(size));
	if (evutil_make_socket_nonblocking(sp[0]) == -1 ||
	    (pc->pc_ev_pcap = event_new(sbxd_env->sx_base, fd,
	    EV_READ | EV_PERSIST, pfmon_cap_pcapcb, NULL)) == NULL ||
	    (pc->pc_ev_sock = event_new(sbxd_env->sx_base, sp[0],
	    EV_READ | EV_PERSIST, pfmon_cap_sockcb, NULL)) == NULL ||
	    (pc->pc_ev_stats = event_new(sbxd_env->sx_base, -1, EV_PERSIST,
	    pfmon_cap_statscb, NULL)) == NULL ||
	    event_add(pc->pc_ev_pcap, NULL) == -1 ||
	    event_add(pc->pc_ev_sock, NULL) == -1 ||
	    event_add(pc->pc_ev_stats, &tv) == -1) {
		close(sp[1]);
		return (util_err(err, errlen, "cannot watch the capture"));
	}
	*fdp = sp[1];
	log_info("pfmon: %s: capturing for the engine", name);
	return (0);
}

static void
pfmon_cap_close(void)
{
	struct pfmon_cap	*pc = pfmon_cap;

	if (pc == NULL)
		return;
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
	pfmon_cap_close();
}

static void
pfmon_cap_pcapcb(evutil_socket_t fd __unused, short events __unused,
    void *arg __unused)
{
	struct pfmon_cap	*pc = pfmon_cap;

	if (pcap_dispatch(pc->pc_pcap, PFMON_CAP_DISPATCH, pfmon_cap_record,
	    NULL) == -1) {
		log_warnx("pfmon: read: %s; the engine sees the capture end",
		    pcap_geterr(pc->pc_pcap));
		pfmon_cap_close();
		return;
	}
	pfmon_cap_flush();
}

/* One record into the batch; a full batch goes first. */
static void
pfmon_cap_record(u_char *arg __unused, const struct pcap_pkthdr *h,
    const u_char *pkt)
{
	struct pfmon_cap	*pc = pfmon_cap;
	struct pfmon_caprec	 cr;
	size_t			 need = sizeof(cr) + h->caplen;

	if (pc == NULL || h->caplen > PFMON_SNAPLEN)
		return;
	if (pc->pc_len + need > PFMON_CAP_BATCH)
		pfmon_cap_flush();
	if (pc->pc_len == 0) {
		uint32_t	 tag = PFMON_CAP_RECORDS, pad = 0;

		memcpy(pc->pc_batch, &tag, sizeof(tag));
		memcpy(pc->pc_batch + sizeof(tag), &pad, sizeof(pad));
		pc->pc_len = sizeof(tag) + sizeof(pad);
	}
	memset(&cr, 0, sizeof(cr));
	cr.cr_sec = (uint64_t)h->ts.tv_sec;
	cr.cr_usec = (uint32_t)h->ts.tv_usec;
	cr.cr_caplen = h->caplen;
	cr.cr_len = h->len;
	memcpy(pc->pc_batch + pc->pc_len, &cr, sizeof(cr));
	memcpy(pc->pc_batch + pc->pc_len + sizeof(cr), pkt, h->caplen);
	pc->pc_len += need;
	pc->pc_nrec++;
}

static void
pfmon_cap_flush(void)
{
	struct pfmon_cap	*pc = pfmon_cap;
	ssize_t			 n;

	if (pc == NULL || pc->pc_len == 0)
		return;
	while ((n = send(pc->pc_sock, pc->pc_batch, pc->pc_len,
	    MSG_DONTWAIT | MSG_NOSIGNAL)) == -1 && errno == EINTR)
		;
	if (n == -1)
		pc->pc_slow += pc->pc_nrec;	/* EAGAIN: it is behind */
	pc->pc_len = 0;
	pc->pc_nrec = 0;
}

/* The engine never writes: readable means its end closed. */
static void
pfmon_cap_sockcb(evutil_socket_t fd, short events __unused,
    void *arg __unused)
{
	char	 c;

	if (recv(fd, &c, 1, MSG_DONTWAIT) == -1 && (errno == EAGAIN ||
	    errno == EINTR))
		return;
	pfmon_cap_close();
}

static void
pfmon_cap_statscb(evutil_socket_t fd __unused, short events __unused,
    void *arg __unused)
{
	struct pfmon_cap	*pc = pfmon_cap;
	struct pfmon_capstats	 cs;
	struct pcap_stat	 ps;

	if (pcap_stats(pc->pc_pcap, &ps) == -1)
		return;
	memset(&cs, 0, sizeof(cs));
	cs.cs_tag = PFMON_CAP_STATS;
	cs.cs_recv = ps.ps_recv;
	cs.cs_drop = ps.ps_drop;
	cs.cs_ifdrop = ps.ps_ifdrop;
	cs.cs_slow = pc->pc_slow;
	if (memcmp(&cs, &pc->pc_sent, sizeof(cs)) == 0)
		return;
	if (send(pc->pc_sock, &cs, sizeof(cs), MSG_DONTWAIT |
	    MSG_NOSIGNAL) == (ssize_t)sizeof(cs))
		pc->pc_sent = cs;
}
