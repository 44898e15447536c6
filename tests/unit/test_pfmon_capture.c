/*
 * test_pfmon_capture.c: the capture as it crosses from the privileged
 * process to the engine.  The engine's reader (pfmon.c) is given a
 * socket by a stand-in "capture" operation and fed crafted packets: a
 * good batch is decoded; a short, cut or inconsistent packet is
 * dropped whole and counted, never read past; a statistics report
 * shows in status; the end of the stream takes pfmon down.  The
 * privileged side (pfmon_priv.c) refuses what is not the config's, and,
 * as root in a network namespace of its own, captures loopback in the
 * same process and loop as its reader, frames every batch as
 * pfmon_cap_check wants, reports statistics, counts what a reader that
 * does not read loses, and closes everything when the reader's end
 * closes.
 */

#include <sys/types.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>

#include <errno.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <jansson.h>

#include "config.h"
#include "pfmon.h"
#include "sbxd.h"
#include "unit.h"

#define T_SNAPLEN	2048	/* the stand-in's: below PFMON_SNAPLEN */
#define T_DLT_EN10MB	1	/* loopback's link type */
#define T_PORT		9	/* discard: nothing listens in the netns */
#define T_BUFFER	(32 * 1024 * 1024) /* the real capture's */
#define T_GROUP		7	/* NFLOG group, in the test's netns */
#define T_COUNT		50	/* datagrams logged */

static struct sbxd	 env;
static int		 t_peer = -1;	/* the stand-in's end of the pair */

/* sbxd.c's, which the tests do not link: no sandbox names a uid. */
const char *
sbxd_uid_name(uid_t uid __unused)
{
	return (NULL);
}

/* "capture" as the privileged process would answer, on a pair of ours. */
static void
t_capture(struct priv_req *pr, json_t *args __unused, int *fds, int nfds)
{
	int	 sp[2];

	while (nfds > 0)
		close(fds[--nfds]);
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) == -1) {
		priv_refuse(pr, "socketpair: %s", strerror(errno));
		return;
	}
	t_peer = sp[0];
	priv_reply(pr, json_pack("{s:i, s:i}", "dlt", PFMON_DLT_NFLOG,
	    "snaplen", T_SNAPLEN), &sp[1], 1);
}

static const struct priv_op t_ops[] = {
	{ "capture", t_capture },
	{ NULL, NULL }
};

static const struct priv_op t_real_ops[] = {
	{ "capture", pfmon_priv_capture },
	{ NULL, NULL }
};

static int
t_setup(const char *iface, const struct priv_op *ops)
{
	sbxd_env = &env;
	memset(&env, 0, sizeof(env));
	if ((env.sx_base = unit_loop_start(10)) == NULL ||
	    (env.sx_conf = config_new()) == NULL)
		return (-1);
	if (iface != NULL && (env.sx_conf->sc_pfmon.pm_interface =
	    strdup(iface)) == NULL)
		return (-1);
	return (priv_init(ops));
}

static void
t_teardown(void)
{
	priv_shutdown();
	config_free(env.sx_conf);
	env.sx_conf = NULL;
	unit_loop_stop(env.sx_base);
	env.sx_base = NULL;
	if (t_peer != -1)
		close(t_peer);
	t_peer = -1;
}

/* A counter of pfmon's status: "seen", or "kernel.drop"; -1 if none. */
static long long
t_stat(const char *key)
{
	json_t		*st, *v;
	const char	*dot;
	char		 sub[32];
	long long	 n = -1;

	if ((st = pfmon_component.cm_status()) == NULL)
		return (-1);
	if ((dot = strchr(key, '.')) != NULL) {
		snprintf(sub, sizeof(sub), "%.*s", (int)(dot - key), key);
		v = json_object_get(json_object_get(st, sub), dot + 1);
	} else
		v = json_object_get(st, key);
	if (json_is_integer(v))
		n = json_integer_value(v);
	json_decref(st);
	return (n);
}

static int
t_state_is(const char *want)
{
	json_t	*st;
	int	 r;

	if ((st = pfmon_component.cm_status()) == NULL)
		return (0);
	r = strcmp(json_string_value(json_object_get(st, "state")), want) ==
	    0;
	json_decref(st);
	return (r);
}

static int
t_down_left(void *arg __unused)
{
	return (!t_state_is("down"));
}

struct t_wait {
	const char	*tw_key;
	long long	 tw_want;
};

static int
t_left(void *arg)
{
	struct t_wait	*tw = arg;

	return (t_stat(tw->tw_key) != tw->tw_want);
}

/* Run the loop until the counter reaches want: 0, or -1 after 5 s. */
static int
t_wait(const char *key, long long want)
{
	struct t_wait	 tw = { key, want };

	return (unit_loop_until(env.sx_base, t_left, &tw, 5.0) == 0 ? 0 :
	    -1);
}

/* Build a packet in buf: a batch header, then records added to it. */
struct t_pkt {
	u_char		 tp_buf[PFMON_CAP_BATCH + 4096];
	size_t		 tp_len;
};

static void
t_batch(struct t_pkt *p, uint32_t count)
{
	struct pfmon_caphdr	 ch = { PFMON_CAP_RECORDS, count };

	memcpy(p->tp_buf, &ch, sizeof(ch));
	p->tp_len = sizeof(ch);
}

static void
t_rec(struct t_pkt *p, const u_char *rec, uint32_t caplen, uint32_t len,
    uint32_t have)
{
	struct pfmon_caprec	 cr;

	memset(&cr, 0, sizeof(cr));
	cr.cr_sec = 1700000000;
	cr.cr_usec = 5;
	cr.cr_caplen = caplen;
	cr.cr_len = len;
	memcpy(p->tp_buf + p->tp_len, &cr, sizeof(cr));
	p->tp_len += sizeof(cr);
	if (rec != NULL)
		memcpy(p->tp_buf + p->tp_len, rec, have);
	else
		memset(p->tp_buf + p->tp_len, 0xa5, have);
	p->tp_len += have;
}

static int
t_send(const struct t_pkt *p)
{
	return (send(t_peer, p->tp_buf, p->tp_len, 0) == (ssize_t)p->tp_len ?
	    0 : -1);
}

/* An NFLOG attribute: length and type in host order, padded to 4. */
static size_t
t_tlv(u_char *p, uint16_t type, const void *v, uint16_t n)
{
	uint16_t	 len = 4 + n;

	memcpy(p, &len, 2);
	memcpy(p + 2, &type, 2);
	memcpy(p + 4, v, n);
	memset(p + 4 + n, 0, (4 - n % 4) % 4);
	return (4 + n + (4 - n % 4) % 4);
}

/*
 * An NFLOG record as the kernel writes it: uid T_UID's UDP datagram
 * from 127.0.0.1 to 127.0.0.2:53, logged at the output hook.
 */
static size_t
t_record(u_char *rec)
{
	static const u_char	 nf[4] = { AF_INET, 0, 0, 5 };
	static const u_char	 hdr[4] = { 0x08, 0x00, 3, 0 };
	static const u_char	 uid[4] = { 0, 0, 0xea, 0xdb };	/* 60123 */
	static const u_char	 ip[28] = {
		0x45, 0, 0, 28, 0, 0, 0, 0, 64, IPPROTO_UDP, 0, 0,
		127, 0, 0, 1, 127, 0, 0, 2, 0x30, 0x39, 0, 53, 0, 8, 0, 0
	};
	size_t			 n = sizeof(nf);

	memcpy(rec, nf, sizeof(nf));
	n += t_tlv(rec + n, 1, hdr, sizeof(hdr));	/* PACKET_HDR */
	n += t_tlv(rec + n, 11, uid, sizeof(uid));	/* UID */
	n += t_tlv(rec + n, 9, ip, sizeof(ip));		/* PAYLOAD */
	return (n);
}

/* Send p and expect it dropped whole: one more capture_malformed. */
static int
t_bad(const struct t_pkt *p, long long *bad, long long seen)
{
	if (t_send(p) == -1 || t_wait("capture_malformed", ++*bad) == -1) {
		unit_fail(__FILE__, __LINE__, "packet of %zu bytes: "
		    "capture_malformed %lld, want %lld", p->tp_len,
		    t_stat("capture_malformed"), *bad);
		return (-1);
	}
	if (t_stat("seen") != seen) {
		unit_fail(__FILE__, __LINE__, "packet of %zu bytes: seen %lld, "
		    "want %lld", p->tp_len, t_stat("seen"), seen);
		return (-1);
	}
	return (0);
}

/* The engine's reader with crafted packets. */
static int
test_reader(void)
{
	static struct t_pkt	 p;
	struct pfmon_capstats	 cs;
	u_char			 rec[256];
	size_t			 rlen;
	long long		 bad = 0;
	uint32_t		 tag;
	int			 ret = -1, up = 0;

	CHECK(t_setup("nflog:5", t_ops) == 0);
	rlen = t_record(rec);
	CHECK(pfmon_component.cm_init(env.sx_conf) == 0);
	up = 1;
	CHECK(t_state_is("up"));
	CHECK(t_peer != -1);

	/* A good batch: three records of one flow, one alert. */
	t_batch(&p, 3);
	t_rec(&p, rec, rlen, rlen, rlen);
	t_rec(&p, rec, rlen, rlen + 100, rlen);	/* cut by the snap length */
	t_rec(&p, rec, rlen, rlen, rlen);
	CHECK(t_send(&p) == 0);
	CHECK(t_wait("seen", 3) == 0);
	CHECK_INT(t_stat("decoded"), 3);
	CHECK_INT(t_stat("alerted"), 1);
	CHECK_INT(t_stat("coalesced"), 2);
	CHECK_INT(t_stat("capture_malformed"), 0);

	/* Shorter than a tag; a batch shorter than its header. */
	p.tp_len = 2;
	CHECK(t_bad(&p, &bad, 3) == 0);
	tag = PFMON_CAP_RECORDS;
	memcpy(p.tp_buf, &tag, sizeof(tag));
	p.tp_len = 6;
	CHECK(t_bad(&p, &bad, 3) == 0);
	/* No records; a record header cut short. */
	t_batch(&p, 0);
	CHECK(t_bad(&p, &bad, 3) == 0);
	t_batch(&p, 1);
	memset(p.tp_buf + p.tp_len, 0, 10);
	p.tp_len += 10;
	CHECK(t_bad(&p, &bad, 3) == 0);
	/* caplen past the packet's end. */
	t_batch(&p, 1);
	t_rec(&p, rec, rlen + 50, rlen + 50, rlen);
	CHECK(t_bad(&p, &bad, 3) == 0);
	/* caplen over len; over the snap length, all bytes there. */
	t_batch(&p, 1);
	t_rec(&p, rec, rlen, rlen - 1, rlen);
	CHECK(t_bad(&p, &bad, 3) == 0);
	t_batch(&p, 1);
	t_rec(&p, NULL, T_SNAPLEN + 1, T_SNAPLEN + 1, T_SNAPLEN + 1);
	CHECK(t_bad(&p, &bad, 3) == 0);
	/* A second of a million microseconds. */
	t_batch(&p, 1);
	t_rec(&p, rec, rlen, rlen, rlen);
	memset(p.tp_buf + sizeof(struct pfmon_caphdr) + 8, 0x40, 4);
	CHECK(t_bad(&p, &bad, 3) == 0);
	/* A count over and under the records there. */
	t_batch(&p, 2);
	t_rec(&p, rec, rlen, rlen, rlen);
	CHECK(t_bad(&p, &bad, 3) == 0);
	t_batch(&p, 1);
	t_rec(&p, rec, rlen, rlen, rlen);
	t_rec(&p, rec, rlen, rlen, rlen);
	CHECK(t_bad(&p, &bad, 3) == 0);
	/* Good records before a bad one: none of them is decoded. */
	t_batch(&p, 3);
	t_rec(&p, rec, rlen, rlen, rlen);
	t_rec(&p, rec, rlen, rlen, rlen);
	t_rec(&p, rec, 4000, 4000, rlen);
	CHECK(t_bad(&p, &bad, 3) == 0);
	/* Over the size of a batch: the kernel cuts it, the reader sees. */
	t_batch(&p, 1);
	t_rec(&p, NULL, PFMON_CAP_BATCH, PFMON_CAP_BATCH, PFMON_CAP_BATCH);
	CHECK(t_bad(&p, &bad, 3) == 0);
	/* An unknown tag; a statistics report of the wrong size. */
	tag = 7;
	memcpy(p.tp_buf, &tag, sizeof(tag));
	p.tp_len = 64;
	CHECK(t_bad(&p, &bad, 3) == 0);
	tag = PFMON_CAP_STATS;
	memcpy(p.tp_buf, &tag, sizeof(tag));
	p.tp_len = sizeof(cs) - 8;
	CHECK(t_bad(&p, &bad, 3) == 0);

	/* A statistics report. */
	memset(&cs, 0, sizeof(cs));
	cs.cs_tag = PFMON_CAP_STATS;
	cs.cs_recv = 100;
	cs.cs_drop = 3;
	cs.cs_ifdrop = 1;
	cs.cs_slow = 7;
	CHECK(send(t_peer, &cs, sizeof(cs), 0) == (ssize_t)sizeof(cs));
	CHECK(t_wait("kernel.recv", 100) == 0);
	CHECK_INT(t_stat("kernel.drop"), 3);
	CHECK_INT(t_stat("kernel.ifdrop"), 1);
	CHECK_INT(t_stat("kernel.engine_drop"), 7);

	/* Still up and decoding. */
	t_batch(&p, 1);
	t_rec(&p, rec, rlen, rlen, rlen);
	CHECK(t_send(&p) == 0);
	CHECK(t_wait("seen", 4) == 0);
	CHECK(t_state_is("up"));

	/* The end of the stream: down, counters kept, a retry later. */
	close(t_peer);
	t_peer = -1;
	CHECK(unit_loop_until(env.sx_base, t_down_left, NULL, 5.0) == 0);
	CHECK_INT(t_stat("kernel.recv"), 100);
	CHECK_INT(t_stat("kernel.engine_drop"), 7);
	CHECK_INT(t_stat("seen"), 4);
	CHECK_INT(t_stat("attempts"), 1);
	ret = 0;
end:
	if (up)
		pfmon_component.cm_shutdown();
	t_teardown();
	return (ret);
}

static int
t_refused(json_t *args, const char *want)
{
	json_t	*r;
	char	 err[512];
	int	 fds[PRIV_FDS_MAX], nfds = 0;

	if ((r = priv_call("capture", args, fds, &nfds, err,
	    sizeof(err))) != NULL) {
		json_decref(r);
		while (nfds > 0)
			close(fds[--nfds]);
		unit_fail(__FILE__, __LINE__, "not refused: %s", want);
		return (-1);
	}
	if (strstr(err, want) == NULL) {
		unit_fail(__FILE__, __LINE__, "\"%s\" lacks \"%s\"", err,
		    want);
		return (-1);
	}
	return (0);
}

/* The privileged side: only the config's interface, a sane buffer. */
static int
test_checks(void)
{
	char	 name[IF_NAMESIZE];
	char	 err[512];
	int	 ret = -1, before;

	/* A name no interface has: the capture itself fails. */
	snprintf(name, sizeof(name), "sbxt%d", (int)getpid() % 100000);
	before = unit_nfds();
	CHECK(t_setup(name, t_real_ops) == 0);
	CHECK(t_refused(json_pack("{s:s, s:i}", "interface", "nflog:6",
	    "buffer", PFMON_BUFFER), "interface nflog:6 is not the pfmon "
	    "interface of the config") == 0);
	CHECK(t_refused(json_pack("{s:s, s:i}", "interface", name, "buffer",
	    PFMON_BUFFER_MIN - 1), "is outside 65536-") == 0);
	CHECK(t_refused(json_pack("{s:s, s:i}", "interface", name, "buffer",
	    PFMON_BUFFER_LIMIT + 1), "is outside") == 0);
	CHECK(t_refused(json_pack("{s:s, s:i, s:i}", "interface", name,
	    "buffer", PFMON_BUFFER, "snaplen", 1), "bad arguments") == 0);
	CHECK(t_refused(json_pack("{s:s}", "interface", name),
	    "bad arguments") == 0);
	CHECK(t_refused(json_pack("{s:i, s:i}", "interface", 5, "buffer",
	    PFMON_BUFFER), "bad arguments") == 0);
	CHECK(priv_call("capture", json_pack("{s:s, s:i}", "interface", name,
	    "buffer", PFMON_BUFFER), NULL, NULL, err, sizeof(err)) == NULL);
	/* libpcap's words, whichever comes first for a missing device. */
	CHECK(strstr(err, "No such device") != NULL ||
	    strstr(err, "ermission") != NULL || strstr(err, "denied") !=
	    NULL);
	free(env.sx_conf->sc_pfmon.pm_interface);
	env.sx_conf->sc_pfmon.pm_interface = NULL;
	CHECK(t_refused(json_pack("{s:s, s:i}", "interface", name, "buffer",
	    PFMON_BUFFER), "pfmon has no interface in the config") == 0);
	ret = 0;
end:
	pfmon_priv_shutdown();
	t_teardown();
	if (ret == 0 && unit_nfds() != before) {
		unit_fail(__FILE__, __LINE__, "descriptors: %d, were %d",
		    unit_nfds(), before);
		ret = -1;
	}
	return (ret);
}

/* Loopback up in this network namespace. */
static int
t_lo_up(void)
{
	struct ifreq	 ifr;
	int		 s, r = -1;

	if ((s = socket(AF_INET, SOCK_DGRAM, 0)) == -1)
		return (-1);
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
	if (ioctl(s, SIOCGIFFLAGS, &ifr) == 0) {
		ifr.ifr_flags |= IFF_UP;
		r = ioctl(s, SIOCSIFFLAGS, &ifr);
	}
	close(s);
	return (r);
}

/* n datagrams of size bytes to 127.0.0.1:T_PORT, the first byte i. */
static int
t_flood(int n, size_t size)
{
	static u_char		 buf[8192];
	struct sockaddr_in	 sin;
	int			 s, i;

	if ((s = socket(AF_INET, SOCK_DGRAM, 0)) == -1 || size > sizeof(buf))
		return (-1);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(T_PORT);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	memset(buf, 'x', size);
	for (i = 0; i < n; i++)
		(void)sendto(s, buf, size, 0, (struct sockaddr *)&sin,
		    sizeof(sin));
	close(s);
	return (0);
}

/*
 * Read what the capture sent: each batch checked, its records counted;
 * the last statistics report in *cs.  Returns records, or -1 on a
 * malformed packet.
 */
static long long
t_drain(int fd, uint32_t snaplen, struct pfmon_capstats *cs)
{
	static u_char	 buf[PFMON_CAP_BATCH + 1];
	char		 err[PFMON_ERR_MAX];
	uint32_t	 tag;
	long long	 recs = 0;
	ssize_t		 n;
	int		 c;

	while ((n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT)) > 0) {
		if (n < (ssize_t)sizeof(tag) || n > PFMON_CAP_BATCH)
			return (-1);
		memcpy(&tag, buf, sizeof(tag));
		if (tag == PFMON_CAP_STATS && n == (ssize_t)sizeof(*cs)) {
			memcpy(cs, buf, sizeof(*cs));
			continue;
		}
		if ((c = pfmon_cap_check(buf, (size_t)n, snaplen, err,
		    sizeof(err))) == -1) {
			unit_fail(__FILE__, __LINE__, "%s", err);
			return (-1);
		}
		recs += c;
	}
	return (recs);
}

/*
 * Run the loop for secs, or until want records and a report of them
 * came, reading the capture if fd is not -1: records, or -1.
 */
static long long
t_pump(int fd, uint32_t snaplen, struct pfmon_capstats *cs, double secs,
    long long want)
{
	double		 end = unit_now() + secs;
	long long	 recs = 0, r;

	while (unit_now() < end) {
		event_base_loop(env.sx_base, EVLOOP_ONCE);
		if (fd == -1)
			continue;
		if ((r = t_drain(fd, snaplen, cs)) == -1)
			return (-1);
		recs += r;
		if (want > 0 && recs >= want && cs->cs_recv >= (uint64_t)want)
			break;
	}
	return (recs);
}

/* In a child, in a network namespace of its own: 0 if all held. */
static int
t_real(void)
{
	struct pfmon_capstats	 cs;
	json_t			*r = NULL;
	char			 err[512];
	int			 fds[PRIV_FDS_MAX], nfds = 0, fd = -1;
	int			 ret = -1, before, i;
	long long		 recs;
	json_int_t		 dlt = 0, snaplen = 0;

	CHECK(unshare(CLONE_NEWNET) == 0);
	CHECK(t_lo_up() == 0);
	before = unit_nfds();
	CHECK(t_setup("lo", t_real_ops) == 0);
	/* Frames of the snap length, 32 KiB each: room for the bursts. */
	r = priv_call("capture", json_pack("{s:s, s:i}", "interface", "lo",
	    "buffer", T_BUFFER), fds, &nfds, err, sizeof(err));
	if (r == NULL)
		unit_fail(__FILE__, __LINE__, "capture: %s", err);
	CHECK(r != NULL);
	CHECK_INT(nfds, 1);
	fd = fds[0];
	CHECK(json_unpack(r, "{s:I, s:I, s:b}", "dlt", &dlt, "snaplen",
	    &snaplen, "ok", &i) == 0);
	CHECK_INT(dlt, T_DLT_EN10MB);
	CHECK_INT(snaplen, PFMON_SNAPLEN);

	/* 200 datagrams: every record arrives, framed; then a report. */
	memset(&cs, 0, sizeof(cs));
	CHECK(t_flood(200, 100) == 0);
	recs = t_pump(fd, (uint32_t)snaplen, &cs, 5.0, 200);
	CHECK(recs >= 200);
	CHECK(cs.cs_tag == PFMON_CAP_STATS && cs.cs_recv >= 200);
	CHECK_INT(cs.cs_slow, 0);

	/*
	 * A reader that does not read: past the socket's buffer, batches
	 * are dropped and counted, and the next report says how many.
	 */
	for (i = 0; i < 100; i++) {
		CHECK(t_flood(200, 8000) == 0);
		event_base_loop(env.sx_base, EVLOOP_NONBLOCK);
	}
	CHECK(t_drain(fd, (uint32_t)snaplen, &cs) > 0);
	CHECK(t_pump(fd, (uint32_t)snaplen, &cs, 2.5, 0) >= 0);
	CHECK(cs.cs_slow > 0);

	/* The reader's end closes: the capture goes, and all it held. */
	close(fd);
	fd = -1;
	(void)t_pump(-1, 0, &cs, 0.5, 0);
	priv_shutdown();
	config_free(env.sx_conf);
	env.sx_conf = NULL;
	unit_loop_stop(env.sx_base);
	env.sx_base = NULL;
	CHECK_INT(unit_nfds(), before);
	ret = 0;
end:
	json_decref(r);
	if (fd != -1)
		close(fd);
	pfmon_priv_shutdown();
	return (ret);
}

static int
t_kernel_left(void *arg)
{
	return (t_stat("kernel.recv") < *(long long *)arg);
}

/*
 * In a child, in a network namespace of its own with an nftables rule
 * that logs to NFLOG group T_GROUP and drops: pfmon in one process, the
 * privileged side on the engine's loop, decodes what it sends.
 */
static int
t_oneproc(void)
{
	FILE		*fp;
	char		 iface[32];
	long long	 n = T_COUNT;
	int		 ret = -1, up = 0, before;

	CHECK(unshare(CLONE_NEWNET) == 0);
	CHECK(t_lo_up() == 0);
	CHECK((fp = popen("nft -f -", "w")) != NULL);
	fprintf(fp, "table inet sbxt {\n chain output {\n"
	    "  type filter hook output priority 0; policy accept;\n"
	    "  udp dport %d log group %d drop\n }\n}\n", T_PORT, T_GROUP);
	CHECK(pclose(fp) == 0);
	before = unit_nfds();
	snprintf(iface, sizeof(iface), "nflog:%d", T_GROUP);
	CHECK(t_setup(iface, t_real_ops) == 0);
	CHECK(pfmon_component.cm_init(env.sx_conf) == 0);
	up = 1;
	CHECK(t_state_is("up"));
	CHECK(t_flood(T_COUNT, 10) == 0);
	/* The kernel hands NFLOG over in batches, within a second. */
	CHECK(t_wait("seen", T_COUNT) == 0);
	CHECK_INT(t_stat("decoded"), T_COUNT);
	CHECK_INT(t_stat("alerted"), 1);
	CHECK_INT(t_stat("coalesced"), T_COUNT - 1);
	CHECK(unit_loop_until(env.sx_base, t_kernel_left, &n, 5.0) == 0);
	CHECK_INT(t_stat("kernel.drop"), 0);
	CHECK_INT(t_stat("kernel.engine_drop"), 0);
	CHECK_INT(t_stat("capture_malformed"), 0);
	/* pfmon's end closes; the capture goes with the next turns. */
	pfmon_component.cm_shutdown();
	up = 0;
	(void)t_pump(-1, 0, NULL, 0.3, 0);
	t_teardown();
	CHECK_INT(unit_nfds(), before);
	ret = 0;
end:
	if (up)
		pfmon_component.cm_shutdown();
	pfmon_priv_shutdown();
	return (ret);
}

/* As root, a child: 0 if fn held in it, or if it cannot run here. */
static int
t_child(int (*fn)(void), const char *what)
{
	pid_t	 pid;
	int	 status;

	if (geteuid() != 0) {
		printf("      (%s skipped: needs root)\n", what);
		return (0);
	}
	if ((pid = fork()) == -1)
		return (-1);
	if (pid == 0)
		_exit(fn() == 0 ? 0 : 1);
	if (waitpid(pid, &status, 0) == -1)
		return (-1);
	return (WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1);
}

static int
test_real(void)
{
	return (t_child(t_real, "real capture"));
}

static int
test_oneproc(void)
{
	if (system("command -v nft >/dev/null 2>&1") != 0) {
		printf("      (one process skipped: no nft)\n");
		return (0);
	}
	return (t_child(t_oneproc, "one process"));
}

static const struct unit_test tests[] = {
	{ "reader", test_reader },
	{ "checks", test_checks },
	{ "real", test_real },
	{ "oneproc", test_oneproc },
};

UNIT_MAIN("pfmon_capture", tests)
