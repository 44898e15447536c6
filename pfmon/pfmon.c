/*
 * pfmon.c: the packet-log monitor component.  The firewall's log
 * interface (pflog0 with pf, nflog:N with nftables) is root's to open,
 * so the privileged process opens it (pfmon_priv.c) and hands the
 * records over in batches on a socket pair; here, unprivileged, each
 * batch is checked and each record decoded with pfmon_decode(), and one
 * pfmon.block event is raised per blocked flow: the first packet of a
 * new (uid, proto, dst, dport) raises an event at once with count 1;
 * when its window ends, one follow-up event carries the count of the
 * packets that came after it, if any.  A flood cannot grow memory or
 * starve the loop: the flow table is fixed in size, each uid may raise
 * only pm_limit first alerts per window, and each read event handles
 * about PFMON_DISPATCH_MAX records.  If the interface cannot be opened
 * the component is "down", says why in its status and tries again every
 * PFMON_RETRY seconds while the rest of the daemon runs.
 */

#include <sys/types.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>

#include <errno.h>
#include <pcap.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/util.h>
#include <jansson.h>

#include "config.h"
#include "log.h"
#include "pfmon.h"
#include "sbxd.h"

#define PFMON_DISPATCH_MAX	256	/* records per read event, rounded up
					   to a whole batch; keeps the loop
					   fair */
#define PFMON_CAP_READS		64	/* batches per read event, however
					   few records they hold */
#define PFMON_RETRY		10	/* seconds between attempts to open
					   a missing interface */
#define PFMON_FLOWS_MAX		4096	/* flows with an open window: a flood
					   past it is counted, not stored */
#define PFMON_FLOW_BUCKETS	8192	/* power of two, twice the flows */
#define PFMON_UIDS_MAX		1024	/* uids with counters: more than a
					   sandbox uid-range holds */
#define PFMON_UID_SLOTS		2048	/* power of two, twice the uids */
#define PFMON_MALFORMED_LOG	10	/* seconds between malformed-record
					   log lines */
#define PFMON_PF_DROP		1	/* pflog action "block" */
#define PFMON_NF_HOOK_FORWARD	2	/* NF_INET_FORWARD */
#define PFMON_NF_HOOK_LOCAL_OUT	3	/* NF_INET_LOCAL_OUT */

enum pfmon_state {
	PFMON_OFF,
	PFMON_DOWN,
	PFMON_UP
};

/* What a flow is: one alert per key per window. */
struct pfmon_key {
	uint32_t		 pk_uid;
	uint8_t			 pk_has_uid;
	uint8_t			 pk_family;
	uint8_t			 pk_proto;
	uint8_t			 pk_pad;
	uint16_t		 pk_dport;
	uint16_t		 pk_pad2;
	union pfmon_addr	 pk_dst;
	uint32_t		 pk_pad3;	/* to 64-bit words, hashed */
};

/* A flow with an open window; the first packet's details. */
struct pfmon_flow {
	struct pfmon_key	 pf_key;
	LIST_ENTRY(pfmon_flow)	 pf_hash;
	TAILQ_ENTRY(pfmon_flow)	 pf_entry;	/* by expiry, or free */
	uint64_t		 pf_expire;	/* monotonic ms */
	uint64_t		 pf_more;	/* packets after the first */
	union pfmon_addr	 pf_src;
	uint16_t		 pf_sport;
	uint8_t			 pf_has_ports;
	uint8_t			 pf_linktype;	/* PFMON_DLT_* & 0xff */
	uint8_t			 pf_hdrlen;
	uint8_t			 pf_action;
	uint8_t			 pf_dir;
	uint8_t			 pf_hook;
	uint32_t		 pf_ifindex;	/* nflog */
	char			 pf_ifname[PFMON_IFNAMSIZ + 1];
};
LIST_HEAD(pfmon_bucket, pfmon_flow);
TAILQ_HEAD(pfmon_flows, pfmon_flow);

/* A uid's alert budget and what it lost. */
struct pfmon_uid {
	uint32_t		 pu_uid;
	uint8_t			 pu_used;
	uint8_t			 pu_has_uid;
	uint64_t		 pu_window_end;	/* monotonic ms */
	uint32_t		 pu_alerts;	/* in this window */
	uint64_t		 pu_alerted;
	uint64_t		 pu_suppressed;
};

struct pfmon_stats {
	uint64_t		 ps_seen;
	uint64_t		 ps_decoded;
	uint64_t		 ps_malformed;
	uint64_t		 ps_ignored;	/* logged, but not a block */
	uint64_t		 ps_alerted;	/* first alerts */
	uint64_t		 ps_followups;
	uint64_t		 ps_coalesced;	/* into an open flow */
	uint64_t		 ps_suppressed;	/* over a limit */
	uint64_t		 ps_table_full;	/* of ps_suppressed */
};

/* The capture and everything counted about it. */
struct pfmon_iface {
	char			 pi_name[PFMON_IFACE_MAX];
	enum pfmon_state	 pi_state;
	int			 pi_capfd;	/* from the privileged
						   process; -1: none */
	int			 pi_dlt;
	uint32_t		 pi_snaplen;	/* of the capture: caplen's
						   bound */
	struct event		*pi_ev;		/* readable */
	struct event		*pi_ev_retry;
	struct event		*pi_ev_sweep;	/* the first window's end */
	char			 pi_error[PCAP_ERRBUF_SIZE];
	char			 pi_lasterr[PCAP_ERRBUF_SIZE]; /* logged */
	uint64_t		 pi_attempts;
	int			 pi_buffer;
	int			 pi_window;	/* seconds */
	int			 pi_limit;
	struct pfmon_stats	 pi_stats;
	struct pfmon_capstats	 pi_kbase;	/* of closed captures */
	struct pfmon_capstats	 pi_kcur;	/* of this one */
	uint64_t		 pi_malformed_logged;
	uint64_t		 pi_malformed_next; /* ms: log again after */
	char			 pi_malformed_err[PFMON_ERR_MAX];
	uint64_t		 pi_capbad;	/* packets from the privileged
						   process dropped whole */
	uint64_t		 pi_capbad_logged;
	uint64_t		 pi_capbad_next; /* ms: log again after */
	uint64_t		 pi_hashkey[2];
	struct pfmon_flow	*pi_flowmem;
	struct pfmon_bucket	*pi_buckets;
	struct pfmon_flows	 pi_flows;	/* open windows, oldest first */
	struct pfmon_flows	 pi_free;
	int			 pi_nflows;
	struct pfmon_uid	*pi_uids;
	int			 pi_nuids;
};

static int	pfmon_init(struct sbxd_config *);
static int	pfmon_reload(struct sbxd_config *, json_t *);
static void	pfmon_shutdown(void);
static json_t	*pfmon_status(void);
static void	pfmon_settings(struct pfmon_conf *);
static int	pfmon_iface_new(const char *);
static void	pfmon_iface_free(void);
static int	pfmon_iface_open(void);
static void	pfmon_iface_close(const char *);
static void	pfmon_iface_down(const char *);
static void	pfmon_retrycb(evutil_socket_t, short, void *);
static int	pfmon_cap_watch(json_t *, int *, int);
static void	pfmon_cap_readcb(evutil_socket_t, short, void *);
static int	pfmon_cap_packet(const u_char *, size_t, uint64_t);
static void	pfmon_cap_records(const u_char *, int, uint64_t);
static void	pfmon_cap_bad(const char *, uint64_t);
static void	pfmon_pcap_handler(u_char *, const struct pcap_pkthdr *,
		    const u_char *);
static void	pfmon_malformed(const char *, uint64_t);
static int	pfmon_is_block(const struct pfmon_record *);
static void	pfmon_account(const struct pfmon_record *, uint64_t);
static void	pfmon_key_make(const struct pfmon_record *,
		    struct pfmon_key *);
static uint32_t	pfmon_key_hash(const struct pfmon_key *);
static struct pfmon_flow *pfmon_flow_find(const struct pfmon_key *,
		    uint32_t);
static struct pfmon_flow *pfmon_flow_add(const struct pfmon_key *,
		    uint32_t, const struct pfmon_record *, uint64_t);
static void	pfmon_flow_end(struct pfmon_flow *);
static struct pfmon_uid *pfmon_uid_get(const struct pfmon_key *);
static int	pfmon_uid_allow(struct pfmon_uid *, uint64_t);
static void	pfmon_sweepcb(evutil_socket_t, short, void *);
static void	pfmon_sweep(uint64_t);
static void	pfmon_sweep_schedule(uint64_t);
static void	pfmon_flows_flush(void);
static void	pfmon_publish(const struct pfmon_flow *, uint64_t);
static json_t	*pfmon_uids_status(void);
static json_t	*pfmon_kernel_status(void);
static uint64_t	pfmon_now(void);

const struct sbxd_component pfmon_component = {
	.cm_name = "pfmon",
	.cm_init = pfmon_init,
	.cm_reload = pfmon_reload,
	.cm_shutdown = pfmon_shutdown,
	.cm_status = pfmon_status,
	.cm_offline = pfmon_offline,
};

static struct pfmon_iface	*pfmon_iface;	/* NULL: off */

static int
pfmon_init(struct sbxd_config *conf)
{
	if (conf->sc_pfmon.pm_interface == NULL)
		return (0);
	if (pfmon_iface_new(conf->sc_pfmon.pm_interface) == -1)
		return (-1);
	pfmon_settings(&conf->sc_pfmon);
	if (pfmon_iface_open() == -1)
		pfmon_iface_down(NULL);
	return (0);
}

/*
 * A new interface or capture buffer reopens the capture; a new window
 * closes every open window (their follow-ups go out now); a new limit
 * applies to the next alert.
 */
static int
pfmon_reload(struct sbxd_config *conf, json_t *errors __unused)
{
	struct pfmon_conf	*pm = &conf->sc_pfmon;
	struct pfmon_iface	*pi = pfmon_iface;

	if (pi != NULL && (pm->pm_interface == NULL ||
	    strcmp(pi->pi_name, pm->pm_interface) != 0 ||
	    pi->pi_buffer != pm->pm_buffer)) {
		log_info("pfmon: %s: closed by reload", pi->pi_name);
		pfmon_iface_free();
		pi = NULL;
	}
	if (pm->pm_interface == NULL)
		return (0);
	if (pi == NULL)
		return (pfmon_init(conf));
	if (pi->pi_window != pm->pm_window)
		pfmon_flows_flush();
	pfmon_settings(pm);
	return (0);
}

static void
pfmon_shutdown(void)
{
	pfmon_iface_free();
}

static void
pfmon_settings(struct pfmon_conf *pm)
{
	pfmon_iface->pi_buffer = pm->pm_buffer;
	pfmon_iface->pi_window = pm->pm_window;
	pfmon_iface->pi_limit = pm->pm_limit;
}

/* The component's state, its settings, counters and per-uid losses. */
static json_t *
pfmon_status(void)
{
	struct pfmon_iface	*pi = pfmon_iface;
	struct pfmon_stats	*ps;
	json_t			*st;

	if (pi == NULL)
		return (json_pack("{s:s}", "state", "off"));
	ps = &pi->pi_stats;
	st = json_pack("{s:s, s:s, s:s?, s:s?, s:i, s:i, s:i, s:I, s:I, s:I, "
	    "s:I, s:I, s:I, s:I, s:I, s:I, s:i, s:i, s:I, s:I}",
	    "state", pi->pi_state == PFMON_UP ? "up" : "down",
	    "interface", pi->pi_name,
	    "linktype", pi->pi_state != PFMON_UP ? NULL :
	    pi->pi_dlt == PFMON_DLT_PFLOG ? "pflog" : "nflog",
	    "error", pi->pi_state == PFMON_UP ? NULL : pi->pi_error,
	    "buffer", pi->pi_buffer, "window", pi->pi_window,
	    "limit", pi->pi_limit,
	    "seen", (json_int_t)ps->ps_seen,
	    "decoded", (json_int_t)ps->ps_decoded,
	    "malformed", (json_int_t)ps->ps_malformed,
	    "ignored", (json_int_t)ps->ps_ignored,
	    "alerted", (json_int_t)ps->ps_alerted,
	    "followups", (json_int_t)ps->ps_followups,
	    "coalesced", (json_int_t)ps->ps_coalesced,
	    "suppressed", (json_int_t)ps->ps_suppressed,
	    "table_full", (json_int_t)ps->ps_table_full,
	    "flows", pi->pi_nflows, "flows_max", PFMON_FLOWS_MAX,
	    "attempts", (json_int_t)pi->pi_attempts,
	    "capture_malformed", (json_int_t)pi->pi_capbad);
	if (st == NULL)
		return (NULL);
	json_object_set_new(st, "kernel", pfmon_kernel_status());
	json_object_set_new(st, "uids", pfmon_uids_status());
	return (st);
}

/*
 * Kernel counters, the open capture's (as last reported) plus those of
 * closed ones, and the records the privileged process dropped because
 * the engine had not read the batches before.
 */
static json_t *
pfmon_kernel_status(void)
{
	struct pfmon_iface	*pi = pfmon_iface;

	return (json_pack("{s:I, s:I, s:I, s:I}", "recv",
	    (json_int_t)(pi->pi_kbase.cs_recv + pi->pi_kcur.cs_recv),
	    "drop", (json_int_t)(pi->pi_kbase.cs_drop + pi->pi_kcur.cs_drop),
	    "ifdrop", (json_int_t)(pi->pi_kbase.cs_ifdrop +
	    pi->pi_kcur.cs_ifdrop), "engine_drop",
	    (json_int_t)(pi->pi_kbase.cs_slow + pi->pi_kcur.cs_slow)));
}

static json_t *
pfmon_uids_status(void)
{
	struct pfmon_uid	*pu;
	json_t			*list;
	int			 i;

	if ((list = json_array()) == NULL)
		return (NULL);
	for (i = 0; i < PFMON_UID_SLOTS; i++) {
		pu = &pfmon_iface->pi_uids[i];
		if (!pu->pu_used)
			continue;
		json_array_append_new(list, json_pack("{s:o, s:I, s:I}",
		    "uid", pu->pu_has_uid ? json_integer(pu->pu_uid) :
		    json_null(), "alerted", (json_int_t)pu->pu_alerted,
		    "suppressed", (json_int_t)pu->pu_suppressed));
	}
	return (list);
}

/* The interface object with its fixed tables; the capture stays shut. */
static int
pfmon_iface_new(const char *name)
{
	struct pfmon_iface	*pi;
	int			 i;

	if ((pi = calloc(1, sizeof(*pi))) == NULL) {
		log_warn("%s", __func__);
		return (-1);
	}
	pfmon_iface = pi;
	pi->pi_capfd = -1;
	snprintf(pi->pi_name, sizeof(pi->pi_name), "%s", name);
	TAILQ_INIT(&pi->pi_flows);
	TAILQ_INIT(&pi->pi_free);
	pi->pi_flowmem = calloc(PFMON_FLOWS_MAX, sizeof(*pi->pi_flowmem));
	pi->pi_buckets = calloc(PFMON_FLOW_BUCKETS, sizeof(*pi->pi_buckets));
	pi->pi_uids = calloc(PFMON_UID_SLOTS, sizeof(*pi->pi_uids));
	pi->pi_ev_retry = evtimer_new(sbxd_env->sx_base, pfmon_retrycb, NULL);
	pi->pi_ev_sweep = evtimer_new(sbxd_env->sx_base, pfmon_sweepcb, NULL);
	if (pi->pi_flowmem == NULL || pi->pi_buckets == NULL ||
	    pi->pi_uids == NULL || pi->pi_ev_retry == NULL ||
	    pi->pi_ev_sweep == NULL) {
		log_warnx("%s: out of memory", __func__);
		pfmon_iface_free();
		return (-1);
	}
	for (i = 0; i < PFMON_FLOWS_MAX; i++)
		TAILQ_INSERT_TAIL(&pi->pi_free, &pi->pi_flowmem[i], pf_entry);
	/* A keyed hash: a sandbox cannot pick colliding flows. */
	evutil_secure_rng_get_bytes(pi->pi_hashkey, sizeof(pi->pi_hashkey));
	pi->pi_state = PFMON_DOWN;
	snprintf(pi->pi_error, sizeof(pi->pi_error),
		    "not opened yet");
	return (0);
}

/* The only teardown: safe on a half-built object. */
static void
pfmon_iface_free(void)
{
	struct pfmon_iface	*pi = pfmon_iface;

	if (pi == NULL)
		return;
	if (pi->pi_flowmem != NULL && pi->pi_buckets != NULL)
		pfmon_flows_flush();
	pfmon_iface_close(NULL);
	if (pi->pi_ev_retry != NULL)
		event_free(pi->pi_ev_retry);
	if (pi->pi_ev_sweep != NULL)
		event_free(pi->pi_ev_sweep);
	free(pi->pi_flowmem);
	free(pi->pi_buckets);
	free(pi->pi_uids);
	free(pi);
	pfmon_iface = NULL;
}

/*
 * Ask the privileged process for the capture (root's to open) and watch
 * the socket its records come on; -1 with pi_error set.
 */
static int
pfmon_iface_open(void)
{
	struct pfmon_iface	*pi = pfmon_iface;
	json_t			*r;
	int			 fds[PRIV_FDS_MAX], nfds = 0;

	pi->pi_attempts++;
	r = priv_call("capture", json_pack("{s:s, s:i}", "interface",
	    pi->pi_name, "buffer", pi->pi_buffer), fds, &nfds, pi->pi_error,
	    sizeof(pi->pi_error));
	if (r == NULL || pfmon_cap_watch(r, fds, nfds) == -1) {
		json_decref(r);
		pfmon_iface_close(NULL);
		return (-1);
	}
	json_decref(r);
	pi->pi_state = PFMON_UP;
	pi->pi_error[0] = '\0';
	pi->pi_lasterr[0] = '\0';
	log_info("pfmon: %s: capturing (%s)", pi->pi_name,
	    pi->pi_dlt == PFMON_DLT_PFLOG ? "pflog" : "nflog");
	events_publish("pfmon.up", json_pack("{s:s}", "interface",
	    pi->pi_name));
	return (0);
}

/*
 * The reply to "capture": its link type and snap length, and one
 * descriptor, a SOCK_SEQPACKET socket, to watch.  Takes the
 * descriptors; -1 with pi_error set.
 */
static int
pfmon_cap_watch(json_t *r, int *fds, int nfds)
{
	struct pfmon_iface	*pi = pfmon_iface;
	json_int_t		 dlt, snaplen;
	socklen_t		 len = sizeof(int);
	int			 type = -1;

	if (nfds != 1 || json_unpack(r, "{s:I, s:I}", "dlt", &dlt,
	    "snaplen", &snaplen) == -1) {
		while (nfds > 0)
			close(fds[--nfds]);
		return (util_err(pi->pi_error, sizeof(pi->pi_error),
		    "the privileged process's reply has no capture"));
	}
	pi->pi_capfd = fds[0];
	if (dlt != PFMON_DLT_PFLOG && dlt != PFMON_DLT_NFLOG)
		return (util_err(pi->pi_error, sizeof(pi->pi_error),
		    "link type %lld is neither pflog (%d) nor nflog (%d)",
		    (long long)dlt, PFMON_DLT_PFLOG, PFMON_DLT_NFLOG));
	/* A record and its header must fit one batch. */
	if (snaplen < 1 || snaplen > (json_int_t)(PFMON_CAP_BATCH -
	    sizeof(struct pfmon_caphdr) - sizeof(struct pfmon_caprec)))
		return (util_err(pi->pi_error, sizeof(pi->pi_error),
		    "snap length %lld is out of range", (long long)snaplen));
	if (getsockopt(pi->pi_capfd, SOL_SOCKET, SO_TYPE, &type,
	    &len) == -1 || type != SOCK_SEQPACKET)
		return (util_err(pi->pi_error, sizeof(pi->pi_error),
		    "the capture is not a SOCK_SEQPACKET socket"));
	pi->pi_dlt = (int)dlt;
	pi->pi_snaplen = (uint32_t)snaplen;
	if (evutil_make_socket_nonblocking(pi->pi_capfd) == -1 ||
	    (pi->pi_ev = event_new(sbxd_env->sx_base, pi->pi_capfd,
	    EV_READ | EV_PERSIST, pfmon_cap_readcb, NULL)) == NULL ||
	    event_add(pi->pi_ev, NULL) == -1)
		return (util_err(pi->pi_error, sizeof(pi->pi_error),
		    "cannot watch the capture"));
	return (0);
}

/* Close the capture, keeping its kernel counters; why may be NULL. */
static void
pfmon_iface_close(const char *why)
{
	struct pfmon_iface	*pi = pfmon_iface;

	if (pi->pi_ev != NULL) {
		event_free(pi->pi_ev);
		pi->pi_ev = NULL;
	}
	if (pi->pi_capfd != -1) {
		pi->pi_kbase.cs_recv += pi->pi_kcur.cs_recv;
		pi->pi_kbase.cs_drop += pi->pi_kcur.cs_drop;
		pi->pi_kbase.cs_ifdrop += pi->pi_kcur.cs_ifdrop;
		pi->pi_kbase.cs_slow += pi->pi_kcur.cs_slow;
		memset(&pi->pi_kcur, 0, sizeof(pi->pi_kcur));
		close(pi->pi_capfd);
		pi->pi_capfd = -1;
	}
	if (why != NULL)
		snprintf(pi->pi_error, sizeof(pi->pi_error), "%s", why);
	pi->pi_state = PFMON_DOWN;
}

/*
 * The capture is down: say why (once per distinct error, then at debug
 * level) and try again in PFMON_RETRY seconds.  why may be NULL when
 * pi_error already says it.
 */
static void
pfmon_iface_down(const char *why)
{
	struct pfmon_iface	*pi = pfmon_iface;
	struct timeval		 tv = { PFMON_RETRY, 0 };

	if (why != NULL)
		pfmon_iface_close(why);
	if (strcmp(pi->pi_lasterr, pi->pi_error) != 0) {
		log_warnx("pfmon: %s: %s; retrying every %d s", pi->pi_name,
		    pi->pi_error, PFMON_RETRY);
		events_publish("pfmon.down", json_pack("{s:s, s:s}",
		    "interface", pi->pi_name, "error", pi->pi_error));
		snprintf(pi->pi_lasterr, sizeof(pi->pi_lasterr), "%s",
		    pi->pi_error);
	} else
		log_debug("pfmon: %s: still down: %s", pi->pi_name,
		    pi->pi_error);
	evtimer_add(pi->pi_ev_retry, &tv);
}

static void
pfmon_retrycb(evutil_socket_t fd __unused, short events __unused,
    void *arg __unused)
{
	if (pfmon_iface_open() == -1)
		pfmon_iface_down(NULL);
}

/*
 * Batches from the privileged process until PFMON_DISPATCH_MAX records
 * or PFMON_CAP_READS batches, then back to the loop.  The end of the
 * stream means the capture is down: it is asked for again later.
 */
static void
pfmon_cap_readcb(evutil_socket_t fd, short events __unused,
    void *arg __unused)
{
	static u_char		 buf[PFMON_CAP_BATCH];
	struct msghdr		 msg;
	struct iovec		 iov;
	uint64_t		 now = pfmon_now();
	char			 why[PFMON_ERR_MAX];
	ssize_t			 n;
	int			 i, nrec = 0;

	for (i = 0; i < PFMON_CAP_READS && nrec < PFMON_DISPATCH_MAX; i++) {
		memset(&msg, 0, sizeof(msg));
		iov.iov_base = buf;
		iov.iov_len = sizeof(buf);
		msg.msg_iov = &iov;
		msg.msg_iovlen = 1;
		n = recvmsg(fd, &msg, MSG_DONTWAIT);
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK ||
		    errno == EINTR))
			return;
		if (n <= 0) {
			if (n == 0)
				snprintf(why, sizeof(why), "the privileged "
				    "process closed the capture");
			else
				snprintf(why, sizeof(why), "capture: %s",
				    strerror(errno));
			pfmon_iface_down(why);
			return;
		}
		if (msg.msg_flags & MSG_TRUNC) {
			snprintf(why, sizeof(why), "a packet over %d bytes",
			    PFMON_CAP_BATCH);
			pfmon_cap_bad(why, now);
			continue;
		}
		nrec += pfmon_cap_packet(buf, (size_t)n, now);
		/* An event's subscriber may have closed the capture. */
		if (pfmon_iface == NULL || pfmon_iface->pi_capfd != fd)
			return;
	}
}

/*
 * One packet from the privileged process: a batch of records, checked
 * whole before any record is decoded, or a statistics report.  Returns
 * the records handed to the decoder.
 */
static int
pfmon_cap_packet(const u_char *buf, size_t len, uint64_t now)
{
	struct pfmon_iface	*pi = pfmon_iface;
	struct pfmon_capstats	 cs;
	char			 err[PFMON_ERR_MAX];
	uint32_t		 tag;
	int			 count;

	if (len < sizeof(tag)) {
		snprintf(err, sizeof(err), "a packet of %zu bytes, shorter "
		    "than its tag", len);
		goto bad;
	}
	memcpy(&tag, buf, sizeof(tag));
	switch (tag) {
	case PFMON_CAP_RECORDS:
		if ((count = pfmon_cap_check(buf, len, pi->pi_snaplen, err,
		    sizeof(err))) == -1)
			goto bad;
		pfmon_cap_records(buf + sizeof(struct pfmon_caphdr), count,
		    now);
		return (count);
	case PFMON_CAP_STATS:
		if (len != sizeof(cs)) {
			snprintf(err, sizeof(err), "a statistics packet of "
			    "%zu bytes, not %zu", len, sizeof(cs));
			goto bad;
		}
		memcpy(&cs, buf, sizeof(cs));
		pi->pi_kcur = cs;
		return (0);
	default:
		snprintf(err, sizeof(err), "a packet of %zu bytes with the "
		    "unknown tag %u", len, tag);
		break;
	}
 bad:
	pfmon_cap_bad(err, now);
	return (0);
}

/*
 * Check a batch of records from the privileged process before reading
 * it: its header; each record's header and bytes inside the packet, its
 * caplen at most the snap length and its length, its microseconds
 * below a second; ch_count records and nothing after them.  Returns
 * the count, or -1 with err set.
 */
int
pfmon_cap_check(const u_char *pkt, size_t len, uint32_t snaplen, char *err,
    size_t errlen)
{
	struct pfmon_caphdr	 ch;
	struct pfmon_caprec	 cr;
	size_t			 off;
	uint32_t		 i;

	if (len < sizeof(ch))
		return (util_err(err, errlen, "a batch of %zu bytes, shorter "
		    "than its header", len));
	memcpy(&ch, pkt, sizeof(ch));
	if (ch.ch_tag != PFMON_CAP_RECORDS)
		return (util_err(err, errlen, "not a batch: tag %u",
		    ch.ch_tag));
	if (ch.ch_count == 0)
		return (util_err(err, errlen, "a batch of no records"));
	for (i = 0, off = sizeof(ch); i < ch.ch_count; i++) {
		if (len - off < sizeof(cr))
			return (util_err(err, errlen, "record %u of %u: its "
			    "header is cut, %zu bytes left of %zu", i + 1,
			    ch.ch_count, len - off, len));
		memcpy(&cr, pkt + off, sizeof(cr));
		off += sizeof(cr);
		if (cr.cr_caplen > len - off)
			return (util_err(err, errlen, "record %u of %u: caplen "
			    "%u runs past the batch, %zu bytes left", i + 1,
			    ch.ch_count, cr.cr_caplen, len - off));
		if (cr.cr_caplen > snaplen || cr.cr_caplen > cr.cr_len)
			return (util_err(err, errlen, "record %u of %u: caplen "
			    "%u is over the snap length %u or the length %u",
			    i + 1, ch.ch_count, cr.cr_caplen, snaplen,
			    cr.cr_len));
		if (cr.cr_usec >= 1000000)
			return (util_err(err, errlen, "record %u of %u: %u "
			    "microseconds", i + 1, ch.ch_count, cr.cr_usec));
		off += cr.cr_caplen;
	}
	if (off != len)
		return (util_err(err, errlen, "%zu bytes after the last of %u "
		    "records", len - off, ch.ch_count));
	/* At most len / sizeof(cr) records: an int. */
	return ((int)ch.ch_count);
}

/* The count records of a checked batch to the decoder, as pcap would. */
static void
pfmon_cap_records(const u_char *p, int count, uint64_t now)
{
	struct pfmon_caprec	 cr;
	struct pcap_pkthdr	 h;

	while (count-- > 0) {
		memcpy(&cr, p, sizeof(cr));
		memset(&h, 0, sizeof(h));
		h.ts.tv_sec = (time_t)cr.cr_sec;
		h.ts.tv_usec = (suseconds_t)cr.cr_usec;
		h.caplen = cr.cr_caplen;
		h.len = cr.cr_len;
		pfmon_pcap_handler((u_char *)&now, &h, p + sizeof(cr));
		p += sizeof(cr) + cr.cr_caplen;
	}
}

/*
 * A packet from the privileged process that breaks the framing: its
 * bug, never a sandbox's doing.  Dropped whole, counted, and a warning
 * at most every PFMON_MALFORMED_LOG s.
 */
static void
pfmon_cap_bad(const char *err, uint64_t now)
{
	struct pfmon_iface	*pi = pfmon_iface;

	pi->pi_capbad++;
	if (now < pi->pi_capbad_next)
		return;
	log_warnx("pfmon: %s: %llu malformed packets from the privileged "
	    "process dropped, the last: %s", pi->pi_name,
	    (unsigned long long)(pi->pi_capbad - pi->pi_capbad_logged), err);
	pi->pi_capbad_logged = pi->pi_capbad;
	pi->pi_capbad_next = now + PFMON_MALFORMED_LOG * 1000;
}

static void
pfmon_pcap_handler(u_char *arg, const struct pcap_pkthdr *h,
    const u_char *pkt)
{
	struct pfmon_iface	*pi = pfmon_iface;
	struct pfmon_record	 pr;
	char			 err[PFMON_ERR_MAX];
	uint64_t		 now = *(uint64_t *)arg;

	pi->pi_stats.ps_seen++;
	if (pfmon_decode(pi->pi_dlt, pkt, h->caplen, 0, &pr, err,
	    sizeof(err)) == -1) {
		pfmon_malformed(err, now);
		return;
	}
	pi->pi_stats.ps_decoded++;
	if (!pfmon_is_block(&pr)) {
		pi->pi_stats.ps_ignored++;
		return;
	}
	pfmon_account(&pr, now);
}

/* Count it; log at debug level at most every PFMON_MALFORMED_LOG s. */
static void
pfmon_malformed(const char *err, uint64_t now)
{
	struct pfmon_iface	*pi = pfmon_iface;

	pi->pi_stats.ps_malformed++;
	snprintf(pi->pi_malformed_err, sizeof(pi->pi_malformed_err), "%s",
	    err);
	if (now < pi->pi_malformed_next)
		return;
	log_debug("pfmon: %s: %llu malformed records, the last: %s",
	    pi->pi_name, (unsigned long long)(pi->pi_stats.ps_malformed -
	    pi->pi_malformed_logged), pi->pi_malformed_err);
	pi->pi_malformed_logged = pi->pi_stats.ps_malformed;
	pi->pi_malformed_next = now + PFMON_MALFORMED_LOG * 1000;
}

/* pf logs passes too when a pass rule says log; netfilter's are drops. */
static int
pfmon_is_block(const struct pfmon_record *pr)
{
	return (pr->pr_linktype != PFMON_DLT_PFLOG ||
	    pr->pr_action == PFMON_PF_DROP);
}

/*
 * One blocked packet: into its open flow, or a first alert if the uid
 * has budget left and the table has room, else suppressed.
 */
static void
pfmon_account(const struct pfmon_record *pr, uint64_t now)
{
	struct pfmon_iface	*pi = pfmon_iface;
	struct pfmon_key	 key;
	struct pfmon_flow	*pf;
	struct pfmon_uid	*pu;
	uint32_t		 h;

	pfmon_key_make(pr, &key);
	h = pfmon_key_hash(&key);
	if ((pf = pfmon_flow_find(&key, h)) != NULL) {
		pf->pf_more++;
		pi->pi_stats.ps_coalesced++;
		return;
	}
	pu = pfmon_uid_get(&key);
	if (pu != NULL && !pfmon_uid_allow(pu, now)) {
		pu->pu_suppressed++;
		pi->pi_stats.ps_suppressed++;
		return;
	}
	if (pu == NULL || (pf = pfmon_flow_add(&key, h, pr, now)) == NULL) {
		if (pu != NULL)
			pu->pu_suppressed++;
		pi->pi_stats.ps_suppressed++;
		pi->pi_stats.ps_table_full++;
		return;
	}
	pu->pu_alerts++;
	pu->pu_alerted++;
	pi->pi_stats.ps_alerted++;
	pfmon_publish(pf, 1);
}

static void
pfmon_key_make(const struct pfmon_record *pr, struct pfmon_key *key)
{
	memset(key, 0, sizeof(*key));
	key->pk_has_uid = pr->pr_has_uid;
	key->pk_uid = pr->pr_has_uid ? pr->pr_uid : 0;
	key->pk_family = pr->pr_family == AF_INET ? 4 : 6;
	key->pk_proto = pr->pr_proto;
	key->pk_dport = pr->pr_has_ports ? pr->pr_dport : 0;
	key->pk_dst = pr->pr_dst;
}

/* A keyed multiply-xorshift over the key's 64-bit words. */
static uint32_t
pfmon_key_hash(const struct pfmon_key *key)
{
	uint64_t	 w[sizeof(*key) / sizeof(uint64_t)], h;
	size_t		 i;

	memcpy(w, key, sizeof(w));
	h = pfmon_iface->pi_hashkey[0];
	for (i = 0; i < sizeof(w) / sizeof(w[0]); i++) {
		h ^= w[i] + pfmon_iface->pi_hashkey[1];
		h *= 0x9e3779b97f4a7c15ULL;
		h ^= h >> 29;
	}
	return ((uint32_t)(h ^ h >> 32));
}

static struct pfmon_flow *
pfmon_flow_find(const struct pfmon_key *key, uint32_t h)
{
	struct pfmon_flow	*pf;

	LIST_FOREACH(pf, &pfmon_iface->pi_buckets[h &
	    (PFMON_FLOW_BUCKETS - 1)], pf_hash)
		if (memcmp(&pf->pf_key, key, sizeof(*key)) == 0)
			return (pf);
	return (NULL);
}

/* A new open flow from the free list, or NULL if the table is full. */
static struct pfmon_flow *
pfmon_flow_add(const struct pfmon_key *key, uint32_t h,
    const struct pfmon_record *pr, uint64_t now)
{
	struct pfmon_iface	*pi = pfmon_iface;
	struct pfmon_flow	*pf;

	if ((pf = TAILQ_FIRST(&pi->pi_free)) == NULL)
		return (NULL);
	TAILQ_REMOVE(&pi->pi_free, pf, pf_entry);
	memset(pf, 0, sizeof(*pf));
	pf->pf_key = *key;
	pf->pf_expire = now + (uint64_t)pi->pi_window * 1000;
	pf->pf_src = pr->pr_src;
	pf->pf_has_ports = pr->pr_has_ports;
	pf->pf_sport = pr->pr_sport;
	pf->pf_linktype = pr->pr_linktype;
	pf->pf_hdrlen = pr->pr_hdrlen;
	pf->pf_action = pr->pr_action;
	pf->pf_dir = pr->pr_dir;
	pf->pf_hook = pr->pr_hook;
	pf->pf_ifindex = pr->pr_hook >= PFMON_NF_HOOK_LOCAL_OUT ?
	    pr->pr_outdev : pr->pr_indev;
	memcpy(pf->pf_ifname, pr->pr_ifname, sizeof(pf->pf_ifname));
	LIST_INSERT_HEAD(&pi->pi_buckets[h & (PFMON_FLOW_BUCKETS - 1)], pf,
	    pf_hash);
	if (TAILQ_EMPTY(&pi->pi_flows))
		pfmon_sweep_schedule(now);
	TAILQ_INSERT_TAIL(&pi->pi_flows, pf, pf_entry);
	pi->pi_nflows++;
	return (pf);
}

/* The window is over: the follow-up if more came, then free the slot. */
static void
pfmon_flow_end(struct pfmon_flow *pf)
{
	struct pfmon_iface	*pi = pfmon_iface;

	if (pf->pf_more > 0) {
		pi->pi_stats.ps_followups++;
		pfmon_publish(pf, pf->pf_more);
	}
	LIST_REMOVE(pf, pf_hash);
	TAILQ_REMOVE(&pi->pi_flows, pf, pf_entry);
	TAILQ_INSERT_TAIL(&pi->pi_free, pf, pf_entry);
	pi->pi_nflows--;
}

/*
 * The uid's counters, found by open addressing; entries stay for the
 * daemon's life.  NULL when PFMON_UIDS_MAX uids are known already.
 */
static struct pfmon_uid *
pfmon_uid_get(const struct pfmon_key *key)
{
	struct pfmon_iface	*pi = pfmon_iface;
	struct pfmon_uid	*pu;
	uint32_t		 i, slot;

	slot = (key->pk_uid * 0x9e3779b1U) >> 21;	/* 11 bits */
	for (i = 0; i < PFMON_UID_SLOTS; i++) {
		pu = &pi->pi_uids[(slot + i) & (PFMON_UID_SLOTS - 1)];
		if (!pu->pu_used)
			break;
		if (pu->pu_uid == key->pk_uid &&
		    pu->pu_has_uid == key->pk_has_uid)
			return (pu);
	}
	if (i == PFMON_UID_SLOTS || pi->pi_nuids >= PFMON_UIDS_MAX)
		return (NULL);
	pu->pu_used = 1;
	pu->pu_uid = key->pk_uid;
	pu->pu_has_uid = key->pk_has_uid;
	pi->pi_nuids++;
	return (pu);
}

/* Whether the uid may raise one more first alert in its window. */
static int
pfmon_uid_allow(struct pfmon_uid *pu, uint64_t now)
{
	struct pfmon_iface	*pi = pfmon_iface;

	if (now >= pu->pu_window_end) {
		pu->pu_window_end = now + (uint64_t)pi->pi_window * 1000;
		pu->pu_alerts = 0;
	}
	if (pu->pu_alerts < (uint32_t)pi->pi_limit)
		return (1);
	if (pu->pu_alerts == (uint32_t)pi->pi_limit) {
		pu->pu_alerts++;	/* log this once per window */
		log_info("pfmon: uid %s%u: %d alerts in %d s; more are "
		    "counted, not raised, until the window ends",
		    pu->pu_has_uid ? "" : "none/", pu->pu_uid, pi->pi_limit,
		    pi->pi_window);
	}
	return (0);
}

static void
pfmon_sweepcb(evutil_socket_t fd __unused, short events __unused,
    void *arg __unused)
{
	pfmon_sweep(pfmon_now());
}

/* End every window that is over, then wait for the next one's end. */
static void
pfmon_sweep(uint64_t now)
{
	struct pfmon_flow	*pf;

	while ((pf = TAILQ_FIRST(&pfmon_iface->pi_flows)) != NULL &&
	    pf->pf_expire <= now)
		pfmon_flow_end(pf);
	if (pf != NULL)
		pfmon_sweep_schedule(now);
}

/* Wake when the oldest window ends (now: for a flow being added). */
static void
pfmon_sweep_schedule(uint64_t now)
{
	struct pfmon_iface	*pi = pfmon_iface;
	struct pfmon_flow	*pf;
	struct timeval		 tv;
	uint64_t		 at, ms;

	pf = TAILQ_FIRST(&pi->pi_flows);
	at = pf != NULL ? pf->pf_expire : now + (uint64_t)pi->pi_window * 1000;
	ms = at > now ? at - now : 0;
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	evtimer_add(pi->pi_ev_sweep, &tv);
}

/* End every open window now: reload of the window, or shutdown. */
static void
pfmon_flows_flush(void)
{
	struct pfmon_flow	*pf;

	while ((pf = TAILQ_FIRST(&pfmon_iface->pi_flows)) != NULL)
		pfmon_flow_end(pf);
	if (pfmon_iface->pi_ev_sweep != NULL)
		evtimer_del(pfmon_iface->pi_ev_sweep);
}

/* One pfmon.block event for the flow, carrying count packets. */
static void
pfmon_publish(const struct pfmon_flow *pf, uint64_t count)
{
	const struct pfmon_key	*k = &pf->pf_key;
	const char		*proto, *action, *dir, *ifname = NULL;
	char			 src[INET6_ADDRSTRLEN], dst[INET6_ADDRSTRLEN];
	char			 ab[PFMON_NAME_MAX], db[PFMON_NAME_MAX];
	char			 ifb[IF_NAMESIZE];
	int			 af = k->pk_family == 4 ? AF_INET : AF_INET6;

	inet_ntop(af, &pf->pf_src, src, sizeof(src));
	inet_ntop(af, &k->pk_dst, dst, sizeof(dst));
	proto = pfmon_proto_name(k->pk_proto);
	if (pf->pf_linktype == (PFMON_DLT_PFLOG & 0xff)) {
		action = pfmon_action_name(pf->pf_hdrlen, pf->pf_action, ab,
		    sizeof(ab));
		dir = pfmon_dir_name(pf->pf_hdrlen, pf->pf_dir, db,
		    sizeof(db));
		ifname = pf->pf_ifname;
	} else {
		action = "block";
		dir = pf->pf_hook == PFMON_NF_HOOK_FORWARD ? "fwd" :
		    pf->pf_hook >= PFMON_NF_HOOK_LOCAL_OUT ? "out" : "in";
		if (pf->pf_ifindex != 0)
			ifname = if_indextoname(pf->pf_ifindex, ifb);
	}
	events_publish("pfmon.block", json_pack("{s:o, s:s?, s:s, s:o, s:s, "
	    "s:o, s:s, s:o, s:s?, s:s, s:s, s:I}",
	    "uid", k->pk_has_uid ? json_integer(k->pk_uid) : json_null(),
	    "sandbox", k->pk_has_uid ? sbxd_uid_name(k->pk_uid) : NULL,
	    "family", af == AF_INET ? "inet" : "inet6",
	    "proto", proto != NULL ? json_string(proto) :
	    json_integer(k->pk_proto),
	    "src", src,
	    "sport", pf->pf_has_ports ? json_integer(pf->pf_sport) :
	    json_null(),
	    "dst", dst,
	    "dport", pf->pf_has_ports ? json_integer(k->pk_dport) :
	    json_null(),
	    "ifname", ifname,
	    "action", action, "dir", dir,
	    "count", (json_int_t)count));
}

static uint64_t
pfmon_now(void)
{
	struct timespec	 ts;

	util_monotime(&ts);
	return ((uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000);
}
