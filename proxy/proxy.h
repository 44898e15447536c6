/*
 * proxy.h: types and prototypes shared only between the files of proxy/.
 */

#ifndef SBXD_PROXY_H
#define SBXD_PROXY_H

#include <event2/event_struct.h>

#include "proxy_http.h"

#define PROXY_BACKLOG		128	/* pending connections per listener */
#define PROXY_ASK_PER_MIN	10	/* new questions per listener in
					   any minute */
#define PROXY_TLS_HELLO_MAX	32768	/* real ClientHellos are under 2 KiB,
					   16 KiB with large key shares */

/* What the first bytes of a CONNECT to port 443 are. */
enum proxy_tls_result {
	PROXY_TLS_MORE,		/* incomplete ClientHello: read more */
	PROXY_TLS_SNI,		/* a ClientHello naming a server */
	PROXY_TLS_NO_SNI,	/* a ClientHello without server_name */
	PROXY_TLS_BAD		/* not TLS, or malformed */
};

/*
 * A listening socket, the policy it enforces and its own runtime rules.
 * A listener from the config is named by its address; one added at run
 * time (a sandbox's) by its owner, and it survives reloads.
 */
struct proxy_listener {
	TAILQ_ENTRY(proxy_listener)	 pr_entry;
	struct sockaddr_storage		 pr_ss;
	socklen_t			 pr_sslen;
	char				 pr_name[64];	/* addr:port or owner */
	char				 pr_addr[64];	/* addr:port */
	char				*pr_sandbox;	/* NULL: none */
	char				 pr_policyname[SBXD_NAME_MAX + 1];
	struct evconnlistener		*pr_evl;
	struct policy			*pr_policy;	/* the config's */
	struct policy_rules		*pr_extra;	/* sbxctl allow|deny */
	int				 pr_runtime;	/* not from the config */
	int				 pr_seen;	/* reload mark */
	int				 pr_max_sessions; /* 0: no own limit */
	int				 pr_nsessions;
	uint64_t			 pr_accepted;
	uint64_t			 pr_refused;
	int				 pr_nheld;	/* sessions held */
	int				 pr_nasks;	/* questions open */
	int				 pr_github;	/* GitHub refused: the
							   gateway has it */
	time_t				 pr_ask_times[PROXY_ASK_PER_MIN];
							/* when the last
							   questions were
							   asked, a ring */
	int				 pr_ask_next;	/* its oldest */
};
TAILQ_HEAD(proxy_listeners, proxy_listener);

enum proxy_state {
	PROXY_S_HEAD,		/* reading a request head */
	PROXY_S_RESOLVE,	/* waiting for DNS */
	PROXY_S_CONNECT,	/* connecting upstream */
	PROXY_S_HELLO,		/* CONNECT to 443: reading the ClientHello */
	PROXY_S_FORWARD,	/* an HTTP exchange in flight */
	PROXY_S_DRAIN,		/* handing buffered bytes to the tunnel */
	PROXY_S_TUNNEL,		/* opaque relay */
	PROXY_S_CLOSING,	/* last bytes to the client, then close */
	PROXY_S_LINGER,		/* all written: discard what the client
				   still sends, until it closes */
	PROXY_S_ASK		/* held while a person is asked */
};

/* ps_flags */
#define PROXY_F_REQ_DONE	0x0001	/* request body all forwarded */
#define PROXY_F_RESP_HEAD	0x0002	/* response head sent to client */
#define PROXY_F_RESP_DONE	0x0004	/* response body all forwarded */
#define PROXY_F_CLOSE_AFTER	0x0008	/* no request after this one */
#define PROXY_F_UP_REUSED	0x0010	/* upstream carried a request before */
#define PROXY_F_CLI_PAUSED	0x0020	/* client reads stopped: upstream full */
#define PROXY_F_UP_PAUSED	0x0040	/* upstream reads stopped: client full */
#define PROXY_F_UP_EOF		0x0080	/* upstream closed its side */
#define PROXY_F_TIMER_HEAD	0x0100	/* the timer is the head deadline */

/* A refusal, as proxy_advice explains it. */
struct proxy_refusal {
	const char			*rf_name;	/* sandbox or listener */
	const char			*rf_policy;
	const struct policy_body	*rf_pb;
	const char			*rf_dest;	/* host:port as asked */
	const char			*rf_host;	/* name or address */
	int				 rf_family;	/* of rf_host; 0: name */
	uint16_t			 rf_port;
	const char			*rf_reason;	/* X-Sbx-Block */
	const char			*rf_rule;	/* deciding rule,
							   "default" or NULL */
	int				 rf_runtime;	/* rf_rule is a runtime
							   one */
	const char			*rf_addr;	/* the refused address
							   of a name, or NULL */
	int				 rf_addr_family;
};
#define PROXY_ADVICE_MAX	512
struct proxy_advice {
	char				 pa_body[PROXY_ADVICE_MAX * 4];
	char				 pa_cause[PROXY_ADVICE_MAX];
	char				 pa_advice[PROXY_ADVICE_MAX];
};

/* One direction of a session (relayd's se_in, se_out). */
struct proxy_side {
	int				 fd;	/* -1 until connected */
	struct bufferevent		*bev;
	struct proxy_side		*peer;
	struct proxy_session		*ps;
};

/* Everything one client connection needs. */
struct proxy_session {
	TAILQ_ENTRY(proxy_session)	 ps_entry;
	uint64_t			 ps_id;
	enum proxy_state		 ps_state;
	int				 ps_flags;
	struct timespec			 ps_tv_start;	/* monotonic */
	struct timespec			 ps_tv_req;	/* this request's */
	struct proxy_listener		*ps_listener;
	char				 ps_client[64];	/* addr:port */
	struct proxy_side		 ps_cli;
	struct proxy_side		 ps_up;
	struct event			 ps_timer;	/* head, idle */
	struct proxy_http_scan		 ps_scan;
	struct proxy_http_request	 ps_req;
	struct proxy_http_response	 ps_resp;
	struct proxy_http_chunked	 ps_req_chunk;
	struct proxy_http_chunked	 ps_resp_chunk;
	uint64_t			 ps_req_left;	/* body bytes to come */
	uint64_t			 ps_resp_left;
	struct proxy_dns_req		*ps_dns;
	struct evutil_addrinfo		*ps_ai;		/* resolved */
	struct evutil_addrinfo		*ps_ai_next;	/* next to try */
	struct sockaddr_storage		 ps_up_ss;	/* connected to */
	socklen_t			 ps_up_sslen;
	char				 ps_dest[PROXY_HTTP_AUTHORITY_LEN];
	char				 ps_refused[64]; /* first address of
							   the name refused,
							   "": none */
	int				 ps_refused_family;
	char				 ps_up_dest[PROXY_HTTP_AUTHORITY_LEN];
	struct proxy_tunnel		*ps_tunnel;
	struct proxy_pump		*ps_pump[2];	/* 0: request body,
							   1: response body;
							   while spliced */
	int				 ps_status;	/* sent to the client */
	const char			*ps_note;	/* why, for the log */
	uint64_t			 ps_bytes_up;	/* this request's */
	uint64_t			 ps_bytes_down;
	uint64_t			 ps_requests;
	struct proxy_ask		*ps_ask;	/* held for it */
	TAILQ_ENTRY(proxy_session)	 ps_ask_entry;
	struct event			 ps_watch;	/* the client leaving,
							   while held */
};
TAILQ_HEAD(proxy_sessions, proxy_session);

/* Counters for status. */
struct proxy_stats {
	uint64_t	 st_accepted;
	uint64_t	 st_refused;	/* over a session limit */
	uint64_t	 st_requests;
	uint64_t	 st_tunnels;
	uint64_t	 st_blocked;
	uint64_t	 st_rejected;
	uint64_t	 st_upstream_errors;
	uint64_t	 st_reused;	/* requests on a kept upstream */
	uint64_t	 st_spliced;	/* bodies that went through a pump */
	uint64_t	 st_pooled;	/* requests on a parked upstream */
};

#define PROXY_KBUF_MIN		16384
/*
 * The most the kernel holds for one session: each socket's receive and
 * send queues (the system doubles what is asked, for its bookkeeping)
 * and a splice pipe of up to the proxy buffer each way.
 */
#define PROXY_KMEM_SESSION(kbuf, buffer)	(2 * 2 * 2 * (kbuf) +	\
						    2 * (buffer))
int		 proxy_fd_ok(int, int);
size_t		 proxy_kbuf(void);

/* proxy_dns.c */
struct proxy_dns_req;
struct evutil_addrinfo;
typedef void	(*proxy_dns_cb)(int, struct evutil_addrinfo *, void *);
int		 proxy_dns_init(struct sbxd_config *);
int		 proxy_dns_reload(struct sbxd_config *, json_t *);
void		 proxy_dns_shutdown(void);
struct proxy_dns_req *proxy_dns_resolve(const char *, proxy_dns_cb, void *);
void		 proxy_dns_cancel(struct proxy_dns_req *);
const struct evutil_addrinfo *proxy_dns_usable(const struct evutil_addrinfo *,
		    int);
json_t		*proxy_dns_status(void);

/* proxy_pump.c: one direction spliced from socket to socket. */
#define PROXY_PUMP_NOLIMIT	UINT64_MAX
enum proxy_pump_end {
	PROXY_PUMP_DONE,	/* the limit is reached and written */
	PROXY_PUMP_EOF,		/* the source closed; all of it written */
	PROXY_PUMP_READ,	/* reading the source failed */
	PROXY_PUMP_WRITE,	/* writing the sink failed */
	PROXY_PUMP_TIMEOUT,	/* idle for the timeout */
	PROXY_PUMP_PIPE		/* no pipe */
};
struct proxy_pump;
typedef void	(*proxy_pump_cb)(struct proxy_pump *, enum proxy_pump_end,
		    void *);
struct proxy_pump {
	int			 pu_from;
	int			 pu_to;
	int			 pu_pipe[2];	/* -1 while nothing is queued */
	size_t			 pu_pipesize;	/* asked for */
	size_t			 pu_pipelen;	/* the pipe's */
	size_t			 pu_queued;	/* bytes in the pipe */
	uint64_t		 pu_left;	/* bytes still to read */
	uint64_t		 pu_bytes;	/* bytes written */
	struct event		 pu_rev;	/* source readable */
	struct event		 pu_wev;	/* sink writable */
	struct timeval		 pu_idle;
	struct timeval		 pu_last;	/* last byte moved */
	int			 pu_has_idle;
	int			 pu_running;
	proxy_pump_cb		 pu_cb;
	void			*pu_arg;
};
int		 proxy_pump_available(void);
int		 proxy_pump_start(struct proxy_pump *, int, int, uint64_t,
		    size_t, const struct timeval *, proxy_pump_cb, void *);
void		 proxy_pump_stop(struct proxy_pump *);
const char	*proxy_pump_why(enum proxy_pump_end, int);

/* proxy_pool.c */
void		 proxy_pool_put(struct proxy_listener *, const char *,
		    const struct sockaddr_storage *, socklen_t,
		    struct bufferevent *, int);
struct bufferevent *proxy_pool_take(struct proxy_listener *, const char *,
		    int *, struct sockaddr_storage *, socklen_t *);
void		 proxy_pool_flush(struct proxy_listener *);
int		 proxy_pool_count(void);

/* proxy_tunnel.c */
struct proxy_tunnel;
typedef void	(*proxy_tunnel_cb)(void *, const char *);
struct proxy_tunnel *proxy_tunnel_new(int, int, int, size_t,
		    const struct timeval *, proxy_tunnel_cb, void *);
void		 proxy_tunnel_free(struct proxy_tunnel *);
uint64_t	 proxy_tunnel_bytes(const struct proxy_tunnel *, int);
size_t		 proxy_tunnel_queued(const struct proxy_tunnel *);

/* proxy.c */
extern struct proxy_sessions	 proxy_sessions;
extern struct proxy_stats	 proxy_stats;
extern struct proxy_listeners	 proxy_listeners;
struct proxy_listener *proxy_listener_find(const char *);
int		 proxy_judge(struct proxy_session *, const char **,
		    const char **);
int		 proxy_judge_addr(struct proxy_session *,
		    struct sockaddr_storage *, socklen_t *, const char **,
		    const char **);
struct proxy_conf *proxy_conf(void);

/* proxy_session.c */
void		 proxy_session_new(struct proxy_listener *, int,
		    const struct sockaddr *);
void		 proxy_session_close(struct proxy_session *, const char *);
void		 proxy_session_finish(struct proxy_session *, const char *);
void		 proxy_session_head(struct proxy_session *);
void		 proxy_session_respond(struct proxy_session *, int,
		    const char *, const char *, int);
void		 proxy_session_block(struct proxy_session *, const char *,
		    const char *);
void		 proxy_session_log(struct proxy_session *);
void		 proxy_session_next(struct proxy_session *);
void		 proxy_session_retry(struct proxy_session *);
void		 proxy_session_tunnel(struct proxy_session *);
void		 proxy_session_arm(struct proxy_session *, int);
void		 proxy_session_resume(struct proxy_session *);
int		 proxy_side_open(struct proxy_side *, int);
void		 proxy_side_free(struct proxy_side *);
void		 proxy_side_park(struct proxy_side *);
size_t		 proxy_side_flush(struct proxy_side *);
json_t		*proxy_session_json(struct proxy_session *);
size_t		 proxy_session_kmem(struct proxy_session *);

/* proxy_forward.c */
void		 proxy_forward_start(struct proxy_session *);
void		 proxy_forward_client(struct proxy_session *);
void		 proxy_forward_upstream(struct proxy_session *);
void		 proxy_forward_upstream_eof(struct proxy_session *, short);
void		 proxy_forward_drained(struct proxy_side *);
void		 proxy_forward_unpump(struct proxy_session *);

/* proxy_log.c */
int		 proxy_log_open(const char *);
void		 proxy_log_close(void);
void		 proxy_log_write(struct proxy_session *, const char *);

/* proxy_tls.c */
int	proxy_tls_sni(const uint8_t *, size_t, char *, size_t, const char **);

/* proxy_rules.c */
int	proxy_rules_init(void);
void	proxy_rules_load(struct proxy_listener *);
void	proxy_rules_forget(const char *);
void	proxy_rules_shutdown(void);

/* proxy_ask.c: requests held while a person is asked (policy "ask"). */
#define PROXY_ASK_DECISIONS_SHOWN	10	/* by rules */
int	 proxy_ask_init(void);
void	 proxy_ask_shutdown(void);
int	 proxy_ask_hold(struct proxy_session *, const char **,
	    const char **);
void	 proxy_ask_leave(struct proxy_session *);
void	 proxy_ask_recheck(struct proxy_listener *, const char *);
void	 proxy_ask_forget(struct proxy_listener *);
json_t	*proxy_ask_list(struct proxy_listener *);
json_t	*proxy_ask_status(void);

/* proxy_rules.c (more) */
int	proxy_rules_add(struct proxy_listener *, const char *, int, time_t,
	    uid_t, const char *, char *, size_t, char *, size_t);

/* proxy_gw.c: the credential gateway (proxy_gw_add in sbxd.h) */
int	 proxy_gw_init(void);
void	 proxy_gw_reload(void);
void	 proxy_gw_shutdown(void);
json_t	*proxy_gw_status(void);

/* proxy_advice.c */
void	proxy_advice(const struct proxy_refusal *, struct proxy_advice *);

#endif /* SBXD_PROXY_H */
