/*
 * parse.y: the sbxd.conf(5) grammar.  The OpenBSD skeleton: a hand-written
 * lexer with include files, macros ($name, name = value, -D name=value),
 * quoted strings and a sorted keyword table; every error is reported as
 * file:line: message, counted, and parsing goes on to find the next one.
 */

%{
#include <sys/types.h>
#include <sys/queue.h>
#include <sys/stat.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <ctype.h>
#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "config.h"
#include "log.h"
#include "sbxd.h"

#define PARSE_STRING_MAX	8192	/* one word or quoted string */
#define PARSE_INCLUDE_DEPTH	16	/* stops include loops early */
#define PARSE_UNGET		16	/* pushed-back bytes; grows */

TAILQ_HEAD(files, file)		 files = TAILQ_HEAD_INITIALIZER(files);
static struct file {
	TAILQ_ENTRY(file)	 entry;
	FILE			*stream;
	char			*name;
	int			 lineno;
	int			 errors;
	int			 ungetpos;
	int			 ungetsize;
	unsigned char		*ungetbuf;
	int			 eof_reached;
	int			 depth;
} *file, *topfile;

static struct file	*pushfile(const char *, int);
static int		 user_name_ok(const char *);
static FILE		*parse_fopen(const char *);

/* Opens the config's files; the engine's asks the privileged process. */
FILE			*(*parse_fopen_hook)(const char *);
static int		 popfile(void);
int			 yyparse(void);
static int		 yylex(void);
static int		 yyerror(const char *, ...)
			    __attribute__((__format__ (printf, 1, 2)));
static int		 kw_cmp(const void *, const void *);
static int		 lookup(const char *);
static int		 igetc(void);
static int		 lgetc(int);
static void		 lungetc(int);
static int		 findeol(void);
static int		 lex_word(int);
static int		 lex_quoted(int);
static int		 lex_macro(void);
static void		 lex_remember(const char *);
static int		 allowed_in_word(int);
static char		*include_path(const char *);
static int		 check_path(char *, char **);
static int		 check_name(const char *, const char *);

TAILQ_HEAD(symhead, sym)	 symhead = TAILQ_HEAD_INITIALIZER(symhead);
struct sym {
	TAILQ_ENTRY(sym)	 entry;
	int			 used;
	int			 persist;
	char			*nam;
	char			*val;
};
static int		 symset(const char *, const char *, int);
static int		 macro_set(char *, char *);
static char		*symget(const char *);
static void		 symclear(void);

static struct sbxd_config	*conf;
static json_t			*errors;
static int			 errline;	/* last line with an error */
static int			 parse_nomem;	/* an allocation failed */
static char			 sandbox_where[SBXD_PATH_MAX + 16]; /* the first
					   sandbox line, as file:line */
static const char		*errfile;
static char			 lasttok[40];	/* for syntax errors */
static int			 stmt_start;	/* next word starts a line */

static int		 set_group(const char *);
static int		 add_nameserver(const char *, long long);
static int		 add_listen(const char *, long long, const char *,
			    long long);
static int		 check_abspath(const char *, char *, char **);
static int		 default_home(struct sbxd_config *);
static int		 load_ca(const char *, const char *, char **);
static int		 start_bot(const char *);
static int		 end_bot(void);
static int		 set_bot_site(char *);
static int		 set_bot_email(char *);
static int		 set_bot_stream(char *);
static int		 load_bot_key(const char *);
static int		 load_key(const char *, const char *, char *, size_t,
			    size_t *);
static int		 add_bot_people(const char *, char ***);
static int		 bot_started;	/* a bot block was seen */
static int		 bot_errors;	/* errors before it */
static int		 check_ident(const char *, char *);
static int		 check_nflog(const char *, int *);
static int		 nomem(void);
static int		 check_pair(const char *, long long, long long,
			    long long, long long);
static int		 check_range(const char *, long long, long long,
			    long long);
static int		 set_memory(long long, const char *);
static int		 limits_off;	/* "off" on this sandbox limits line */
static int		 limits_n;	/* limits on this line */
static struct policy	*add_policy(const char *);
static int		 add_pattern(const char *);
static struct policy	*curpol;
static enum policy_action curaction;
static struct agent_conf *add_agent(const char *);
static int		 end_agent(void);
static int		 add_word(char *);
static char		**take_words(void);
static void		 drop_words(void);
static int		 set_agent_type(const char *);
static int		 set_agent_path(char *);
static int		 add_agent_env(char *, char *);
static int		 add_agent_mode(char *);
static int		 parse_duration(const char *, long long *);
static struct agent_conf *curagent;
static char		*words[AGENT_ARGS_MAX + 1];
static int		 nwords;
static int		 words_over;	/* more than AGENT_ARGS_MAX */
static int		 agent_errors;	/* errors before the agent block */
static struct provider_conf *add_provider(const char *);
static int		 end_provider(void);
static const char	*provider_what(const char *);
static int		 set_provider_keyfile(char *);
static int		 set_provider_upstream(char *);
static const char	*upstream_parse(char *, char **, in_port_t *,
			    char **);
static int		 upstream_host_ok(const char *);
static int		 upstream_path_ok(const char *);
static int		 set_sandbox_providers(void);
static int		 check_sandbox_providers(void);
static struct provider_conf *curprov;
static int		 curprov_listed; /* in the config, not a dud */
static int		 provider_errors; /* errors before the provider block */
static char		 providers_where[SBXD_PATH_MAX + 16]; /* the sandbox
					   providers line, as file:line */
static void		 start_github(void);
static int		 end_github(void);
static int		 set_github_tokenfile(char *);
static int		 set_github_appkey(char *);
static int		 load_app_key(const char *, char *, size_t, size_t *);
static FILE		*open_secret(const char *, const char *);
static int		 set_github_upstream(int, char *);
static int		 set_github_ca(char *);
static struct github_conf *curgh; /* the block being parsed */
static struct github_conf gh_dud; /* a second block, parsed, dropped */
static int		 github_errors;	/* errors before the github block */

typedef struct {
	union {
		long long	 number;
		char		*string;
	} v;
	int lineno;
} YYSTYPE;

%}

%token	AGENT ARGS ENV MODE PATH QUEUE TYPE
%token	ADMINS BOT EMAIL KEYFILE SITE STREAM USERS
%token	ASK ONCE
%token	BUDGET DAY PER PROVIDER PROVIDERS TOKENS UPSTREAM
%token	APIUPSTREAM GITHUB TOKENFILE APPID APPKEYFILE INSTALLATIONID
%token	ACCESS ALLOW ANCHOR BLOCK BUFFER CAFILE CGROUP CHECK CONNECT CONTROL
%token	CPUWEIGHT DEFAULT FIREWALL GROUP HEADER HOME HOSTSFILE IDLE INCLUDE
%token	INTERFACE LEVEL LIMIT LIMITS LISTEN LOG LOOPBACK MAX MEMORY
%token	NAMESERVER NFTABLES NO ON PF PFMON PIDFILE POLICY PORT PORTRANGE
%token	PORTS PRIVATE PROCESSES PROXY RESOLVER SANDBOX SESSIONS SHELL SNI
%token	SOCKET SPLICE STATE TABLE TIMEOUT UIDRANGE USER WINDOW YES
%token	ERROR
%token	<v.string>	STRING
%token	<v.number>	NUMBER
%type	<v.string>	string
%type	<v.number>	port
%type	<v.string>	policyname fwtable fwanchor
%type	<v.number>	yesno maxsessions duration
%destructor	{ free($$); } <v.string>

%%

grammar		: /* empty */
		| grammar include '\n'
		| grammar '\n'
		| grammar varset '\n'
		| grammar main '\n'
		| grammar policy '\n'
		| grammar agent '\n'
		| grammar bot '\n'
		| grammar provider '\n'
		| grammar github '\n'
		| grammar error '\n'		{ yyerrok; }
		;

include		: INCLUDE STRING		{
			struct file	*nfile;
			char		*path;

			path = include_path($2);
			free($2);
			if (path == NULL)
				YYERROR;
			if ((nfile = pushfile(path, file->depth + 1)) == NULL) {
				free(path);
				YYERROR;
			}
			free(path);
			file = nfile;
			lungetc('\n');
		}
		;

string		: string STRING		{
			int	 r = asprintf(&$$, "%s %s", $1, $2);

			free($1);
			free($2);
			if (r == -1) {
				nomem();
				YYERROR;
			}
		}
		| STRING
		;

varset		: STRING '=' NUMBER		{
			char	*val;

			if (asprintf(&val, "%lld", $3) == -1) {
				free($1);
				nomem();
				YYERROR;
			}
			if (macro_set($1, val) == -1)
				YYERROR;
		}
		| STRING '=' string		{
			if (macro_set($1, $3) == -1)
				YYERROR;
		}
		;

main		: STATE STRING			{
			if (check_path($2, &conf->sc_state) == -1)
				YYERROR;
		}
		| CONTROL SOCKET STRING		{
			if (check_path($3, &conf->sc_socket) == -1)
				YYERROR;
		}
		| CONTROL GROUP STRING		{
			int	 r = set_group($3);

			free($3);
			if (r == -1)
				YYERROR;
		}
		| CONTROL GROUP NUMBER		{
			char	*s;

			if (asprintf(&s, "%lld", $3) == -1) {
				nomem();
				YYERROR;
			}
			if (set_group(s) == -1) {
				free(s);
				YYERROR;
			}
			free(s);
		}
		| PIDFILE STRING		{
			if (check_path($2, &conf->sc_pidfile) == -1)
				YYERROR;
		}
		| USER STRING			{
			if (!user_name_ok($2)) {
				yyerror("user \"%s\": not a user name", $2);
				free($2);
				YYERROR;
			}
			free(conf->sc_user);
			conf->sc_user = $2;
		}
		| LOG LEVEL STRING		{
			int	 level = config_loglevel_parse($3);

			if (level == -1) {
				yyerror("unknown log level \"%s\" "
				    "(debug, info or warning)", $3);
				free($3);
				YYERROR;
			}
			free($3);
			conf->sc_loglevel = level;
		}
		| RESOLVER HOSTSFILE STRING	{
			struct stat	 st;

			if (check_path($3, &conf->sc_hostsfile) == -1)
				YYERROR;
			if (stat(conf->sc_hostsfile, &st) == -1) {
				yyerror("hosts-file \"%s\": %s",
				    conf->sc_hostsfile, strerror(errno));
				YYERROR;
			}
			if (!S_ISREG(st.st_mode)) {
				yyerror("hosts-file \"%s\" is not a regular "
				    "file", conf->sc_hostsfile);
				YYERROR;
			}
		}
		| RESOLVER NAMESERVER STRING port {
			int	 r = add_nameserver($3, $4 == -1 ?
			    RESOLVER_PORT : $4);

			free($3);
			if (r == -1)
				YYERROR;
		}
		| PROXY proxyopt
		| PFMON pfmonopt
		| SANDBOX sandboxopt		{
			if (sandbox_where[0] == '\0')
				snprintf(sandbox_where, sizeof(sandbox_where),
				    "%s:%d", file->name, yylval.lineno);
		}
		;

pfmonopt	: INTERFACE STRING		{
			if (*$2 == '\0' || strlen($2) >= PFMON_IFACE_MAX) {
				yyerror("pfmon interface \"%s\" is empty or "
				    "too long", $2);
				free($2);
				YYERROR;
			}
			if (check_nflog($2, &conf->sc_pfmon.pm_nflog_group)
			    == -1) {
				free($2);
				YYERROR;
			}
			free(conf->sc_pfmon.pm_interface);
			conf->sc_pfmon.pm_interface = $2;
		}
		| BUFFER NUMBER			{
			if (check_range("pfmon buffer", $2, PFMON_BUFFER_MIN,
			    PFMON_BUFFER_LIMIT) == -1)
				YYERROR;
			conf->sc_pfmon.pm_buffer = $2;
		}
		| WINDOW NUMBER			{
			if (check_range("pfmon window", $2, 1,
			    PFMON_WINDOW_LIMIT) == -1)
				YYERROR;
			conf->sc_pfmon.pm_window = $2;
		}
		| LIMIT NUMBER			{
			if (check_range("pfmon limit", $2, 1,
			    PFMON_LIMIT_LIMIT) == -1)
				YYERROR;
			conf->sc_pfmon.pm_limit = $2;
		}
		;

sandboxopt	: MAX SESSIONS NUMBER		{
			if (check_range("sandbox max sessions", $3, 1,
			    PROXY_SESSIONS_LIMIT) == -1)
				YYERROR;
			conf->sc_sandbox.sbc_max_sessions = $3;
			conf->sc_sandbox.sbc_enabled = 1;
		}
		| UIDRANGE NUMBER NUMBER	{
			if (check_pair("sandbox uid-range", $2, $3,
			    SANDBOX_UID_MIN, SANDBOX_UID_LIMIT) == -1)
				YYERROR;
			conf->sc_sandbox.sbc_uid_min = $2;
			conf->sc_sandbox.sbc_uid_max = $3;
			conf->sc_sandbox.sbc_enabled = 1;
		}
		| PORTRANGE NUMBER NUMBER	{
			if (check_pair("sandbox port-range", $2, $3, 1,
			    SANDBOX_PORT_LIMIT) == -1)
				YYERROR;
			conf->sc_sandbox.sbc_port_min = $2;
			conf->sc_sandbox.sbc_port_max = $3;
			conf->sc_sandbox.sbc_enabled = 1;
		}
		| HOME STRING			{
			if (check_abspath("sandbox home", $2,
			    &conf->sc_sandbox.sbc_home) == -1)
				YYERROR;
			conf->sc_sandbox.sbc_home_set = 1;
			conf->sc_sandbox.sbc_enabled = 1;
		}
		| SHELL STRING			{
			if (check_abspath("sandbox shell", $2,
			    &conf->sc_sandbox.sbc_shell) == -1)
				YYERROR;
			conf->sc_sandbox.sbc_enabled = 1;
		}
		| CAFILE STRING			{
			if (check_abspath("sandbox ca-file", $2,
			    &conf->sc_sandbox.sbc_ca_file) == -1)
				YYERROR;
			free(conf->sc_sandbox.sbc_ca_pem);
			conf->sc_sandbox.sbc_ca_pem = NULL;
			if (load_ca("sandbox", conf->sc_sandbox.sbc_ca_file,
			    &conf->sc_sandbox.sbc_ca_pem) == -1)
				YYERROR;
			conf->sc_sandbox.sbc_enabled = 1;
		}
		| POLICY STRING			{
			if (config_policy_find(conf, $2) == NULL) {
				yyerror("policy \"%s\" is not defined (define "
				    "it before the sandbox policy)", $2);
				free($2);
				YYERROR;
			}
			free(conf->sc_sandbox.sbc_policy);
			conf->sc_sandbox.sbc_policy = $2;
			conf->sc_sandbox.sbc_enabled = 1;
		}
		| FIREWALL NFTABLES fwtable	{
			conf->sc_sandbox.sbc_firewall = SANDBOX_FW_NFTABLES;
			if ($3 != NULL) {
				free(conf->sc_sandbox.sbc_fw_table);
				conf->sc_sandbox.sbc_fw_table = $3;
			}
			conf->sc_sandbox.sbc_enabled = 1;
		}
		| FIREWALL PF fwanchor		{
			conf->sc_sandbox.sbc_firewall = SANDBOX_FW_PF;
			if ($3 != NULL) {
				free(conf->sc_sandbox.sbc_fw_anchor);
				conf->sc_sandbox.sbc_fw_anchor = $3;
			}
			conf->sc_sandbox.sbc_enabled = 1;
		}
		| FIREWALL STRING		{
			yyerror("unknown firewall \"%s\" (nftables or pf)",
			    $2);
			free($2);
			YYERROR;
		}
		| CGROUP STRING			{
			if (!config_cgroup_ok($2)) {
				yyerror("sandbox cgroup \"%s\": an absolute "
				    "path below the root, of parts of letters, "
				    "digits, '_', '.', '-' and '@', none \".\" "
				    "or \"..\", up to %d in all, is needed", $2,
				    SANDBOX_CGROUP_MAX);
				free($2);
				YYERROR;
			}
			free(conf->sc_sandbox.sbc_cgroup);
			conf->sc_sandbox.sbc_cgroup = $2;
			conf->sc_sandbox.sbc_enabled = 1;
		}
		| PROVIDERS { nwords = words_over = 0; } optwords {
			if (set_sandbox_providers() == -1)
				YYERROR;
			conf->sc_sandbox.sbc_enabled = 1;
		}
		| AGENT STRING			{
			if (config_agent_find(conf, $2) == NULL) {
				yyerror("agent \"%s\" is not defined (define "
				    "it before the sandbox agent)", $2);
				free($2);
				YYERROR;
			}
			free(conf->sc_sandbox.sbc_agent);
			conf->sc_sandbox.sbc_agent = $2;
			conf->sc_sandbox.sbc_enabled = 1;
		}
		| LIMITS			{
			limits_off = limits_n = 0;
		} limitopts			{
			if (limits_off && limits_n > 1) {
				yyerror("sandbox limits off takes nothing "
				    "else");
				YYERROR;
			}
			conf->sc_sandbox.sbc_limits = limits_off ?
			    SANDBOX_LIMITS_OFF : SANDBOX_LIMITS_SET;
			conf->sc_sandbox.sbc_enabled = 1;
		}
		;

limitopts	: limitopt			{ limits_n++; }
		| limitopts limitopt		{ limits_n++; }
		;

limitopt	: MEMORY NUMBER			{
			if (set_memory($2, NULL) == -1)
				YYERROR;
		}
		| MEMORY STRING			{
			int	 r = set_memory(-1, $2);

			free($2);
			if (r == -1)
				YYERROR;
		}
		| PROCESSES NUMBER		{
			if (check_range("sandbox limits processes", $2,
			    SANDBOX_PROCESSES_MIN, SANDBOX_PROCESSES_LIMIT) == -1)
				YYERROR;
			conf->sc_sandbox.sbc_processes = $2;
		}
		| PROCESSES STRING		{
			if (strcmp($2, "none") != 0) {
				yyerror("sandbox limits processes \"%s\": a "
				    "number or none is needed", $2);
				free($2);
				YYERROR;
			}
			free($2);
			conf->sc_sandbox.sbc_processes = 0;
		}
		| CPUWEIGHT NUMBER		{
			if (check_range("sandbox limits cpu-weight", $2,
			    SANDBOX_CPU_WEIGHT_MIN, SANDBOX_CPU_WEIGHT_LIMIT) ==
			    -1)
				YYERROR;
			conf->sc_sandbox.sbc_cpu_weight = $2;
		}
		| STRING			{
			if (strcmp($1, "off") != 0) {
				yyerror("unknown sandbox limit \"%s\" (memory, "
				    "processes, cpu-weight or off)", $1);
				free($1);
				YYERROR;
			}
			free($1);
			limits_off = 1;
		}
		;

fwtable		: /* empty */			{ $$ = NULL; }
		| TABLE STRING			{
			if (check_ident("table", $2) == -1)
				YYERROR;
			$$ = $2;
		}
		;

fwanchor	: /* empty */			{ $$ = NULL; }
		| ANCHOR STRING			{
			if (check_ident("anchor", $2) == -1)
				YYERROR;
			$$ = $2;
		}
		;

proxyopt	: LISTEN ON STRING port policyname maxsessions {
			int	 r = add_listen($3, $4 == -1 ? PROXY_PORT : $4,
			    $5, $6);

			free($3);
			free($5);
			if (r == -1)
				YYERROR;
		}
		| TIMEOUT CONNECT NUMBER	{
			if (check_range("timeout connect", $3, 1,
			    PROXY_TIMEOUT_LIMIT) == -1)
				YYERROR;
			conf->sc_proxy.pc_timeout_connect = $3;
		}
		| TIMEOUT HEADER NUMBER		{
			if (check_range("timeout header", $3, 1,
			    PROXY_TIMEOUT_LIMIT) == -1)
				YYERROR;
			conf->sc_proxy.pc_timeout_header = $3;
		}
		| TIMEOUT STRING NUMBER		{
			yyerror("unknown timeout \"%s\" (connect, header or "
			    "idle)", $2);
			free($2);
			YYERROR;
		}
		| TIMEOUT IDLE NUMBER		{
			if (check_range("timeout idle", $3, 1,
			    PROXY_TIMEOUT_LIMIT) == -1)
				YYERROR;
			conf->sc_proxy.pc_timeout_idle = $3;
		}
		| MAX SESSIONS NUMBER		{
			if (check_range("max sessions", $3, 1,
			    PROXY_SESSIONS_LIMIT) == -1)
				YYERROR;
			conf->sc_proxy.pc_max_sessions = $3;
		}
		| BUFFER NUMBER			{
			if (check_range("buffer", $2, PROXY_BUFFER_MIN,
			    PROXY_BUFFER_LIMIT) == -1)
				YYERROR;
			conf->sc_proxy.pc_buffer = $2;
		}
		| ACCESS LOG STRING		{
			if (check_path($3, &conf->sc_proxy.pc_accesslog) == -1)
				YYERROR;
		}
		| SPLICE yesno			{
			conf->sc_proxy.pc_splice = $2;
		}
		;

yesno		: YES				{ $$ = 1; }
		| NO				{ $$ = 0; }
		| STRING			{
			yyerror("\"%s\": yes or no expected", $1);
			free($1);
			YYERROR;
		}
		;

maxsessions	: /* empty */			{ $$ = 0; }
		| MAX SESSIONS NUMBER		{
			if (check_range("max sessions", $3, 1,
			    PROXY_SESSIONS_LIMIT) == -1)
				YYERROR;
			$$ = $3;
		}
		;

port		: /* empty */			{ $$ = -1; }
		| PORT NUMBER			{
			if ($2 < 1 || $2 > 65535) {
				yyerror("port %lld out of range (1-65535)",
				    $2);
				YYERROR;
			}
			$$ = $2;
		}
		| PORT STRING			{
			yyerror("port \"%s\" is not a number", $2);
			free($2);
			YYERROR;
		}
		;

policyname	: /* empty */			{
			if (($$ = strdup("default")) == NULL) {
				nomem();
				YYERROR;
			}
		}
		| POLICY STRING			{ $$ = $2; }
		;

policy		: POLICY STRING			{
			curpol = add_policy($2);
			free($2);
			$2 = NULL;	/* error recovery may still pop it */
			if (curpol == NULL)
				YYERROR;
		} optnl '{' optnl policyopts '}'	{
			if (curpol != NULL && curpol->pol_name == NULL)
				config_policy_free(curpol);	/* a dud */
			curpol = NULL;
		}
		;

policyopts	: /* empty */
		| policyopts policyopt optnl
		| policyopts error '\n'	{ yyerrok; }
		;

policyopt	: DEFAULT ALLOW		{
			curpol->pol_body.pb_default = POLICY_ALLOW;
		}
		| DEFAULT BLOCK		{
			curpol->pol_body.pb_default = POLICY_BLOCK;
		}
		| ALLOW			{ curaction = POLICY_ALLOW; } patterns
		| BLOCK			{ curaction = POLICY_BLOCK; } patterns
		| PORTS			{ curpol->pol_body.pb_nports = 0; }
		    portlist
		| LOOPBACK yesno	{ curpol->pol_body.pb_loopback = $2; }
		| PRIVATE yesno		{ curpol->pol_body.pb_private = $2; }
		| SNI CHECK		{ curpol->pol_body.pb_sni_check = 1; }
		| SNI CHECK yesno	{ curpol->pol_body.pb_sni_check = $3; }
		| ASK duration		{
			if (check_range("ask", $2, 1, POLICY_ASK_MAX) == -1)
				YYERROR;
			curpol->pol_body.pb_ask = (int)$2;
		}
		| ASK duration ONCE duration	{
			if (check_range("ask", $2, 1, POLICY_ASK_MAX) == -1 ||
			    check_range("ask once", $4, 1,
			    POLICY_ASK_ONCE_MAX) == -1)
				YYERROR;
			curpol->pol_body.pb_ask = (int)$2;
			curpol->pol_body.pb_ask_once = (int)$4;
		}
		;

duration	: NUMBER			{ $$ = $1; }
		| STRING			{
			if (parse_duration($1, &$$) == -1) {
				yyerror("\"%s\" is not a duration such as "
				    "90s, 10m or 2h", $1);
				free($1);
				YYERROR;
			}
			free($1);
		}
		;

patterns	: pattern
		| patterns pattern
		;

pattern		: STRING			{
			int	 r = add_pattern($1);

			free($1);
			if (r == -1)
				YYERROR;
		}
		;

portlist	: portnum
		| portlist portnum
		;

portnum		: NUMBER			{
			struct policy_body	*pb = &curpol->pol_body;
			int			 i;

			if (check_range("port", $1, 1, 65535) == -1)
				YYERROR;
			for (i = 0; i < pb->pb_nports; i++)
				if (pb->pb_ports[i] == $1)
					break;
			if (i == pb->pb_nports && pb->pb_nports ==
			    POLICY_PORTS_MAX) {
				yyerror("more than %d ports", POLICY_PORTS_MAX);
				YYERROR;
			}
			if (i == pb->pb_nports)
				pb->pb_ports[pb->pb_nports++] = $1;
		}
		;

agent		: AGENT STRING			{
			curagent = add_agent($2);
			free($2);
			$2 = NULL;	/* error recovery may still pop it */
			if (curagent == NULL)
				YYERROR;
		} optnl '{' optnl agentopts '}'	{
			if (curagent != NULL && end_agent() == -1) {
				curagent = NULL;
				YYERROR;
			}
			curagent = NULL;
		}
		;

agentopts	: /* empty */
		| agentopts agentopt '\n' optnl
		| agentopts error '\n'	{ yyerrok; }
		;

agentopt	: TYPE STRING			{
			int	 r = set_agent_type($2);

			free($2);
			if (r == -1)
				YYERROR;
		}
		| PATH STRING			{
			if (set_agent_path($2) == -1)
				YYERROR;
		}
		| ARGS { nwords = words_over = 0; } words {
			char	**av;
			size_t	  n = 0;

			for (av = curagent->ac_args; av != NULL && *av != NULL;
			    av++)
				n++;
			if (n > 0) {
				yyerror("agent \"%s\": one args line only (put "
				    "every argument on it)", curagent->ac_name);
				drop_words();
				YYERROR;
			}
			if ((curagent->ac_args = take_words()) == NULL)
				YYERROR;
		}
		| ENV STRING STRING		{
			if (add_agent_env($2, $3) == -1)
				YYERROR;
		}
		| MODE STRING			{
			nwords = words_over = 0;
			if (add_agent_mode($2) == -1)
				YYERROR;
		}
		| MODE STRING ARGS { nwords = words_over = 0; } words {
			if (add_agent_mode($2) == -1)
				YYERROR;
		}
		| TIMEOUT NUMBER		{
			if (check_range("agent timeout", $2, 1,
			    AGENT_TIMEOUT_LIMIT) == -1)
				YYERROR;
			curagent->ac_timeout = $2;
		}
		| TIMEOUT STRING		{
			long long	 secs;

			if (parse_duration($2, &secs) == -1) {
				yyerror("agent timeout \"%s\": a duration such "
				    "as 90s, 30m or 2h is needed", $2);
				free($2);
				YYERROR;
			}
			free($2);
			if (check_range("agent timeout", secs, 1,
			    AGENT_TIMEOUT_LIMIT) == -1)
				YYERROR;
			curagent->ac_timeout = secs;
		}
		| QUEUE NUMBER			{
			if (check_range("agent queue", $2, 1,
			    AGENT_QUEUE_LIMIT) == -1)
				YYERROR;
			curagent->ac_queue = $2;
		}
		;

bot		: BOT STRING			{
			int	 r = start_bot($2);

			free($2);
			$2 = NULL;	/* error recovery may still pop it */
			if (r == -1)
				YYERROR;
		} optnl '{' optnl botopts '}'	{
			if (end_bot() == -1)
				YYERROR;
		}
		;

botopts		: /* empty */
		| botopts botopt '\n' optnl
		| botopts error '\n'	{ yyerrok; }
		;

botopt		: SITE STRING			{
			if (set_bot_site($2) == -1)
				YYERROR;
		}
		| EMAIL STRING			{
			if (set_bot_email($2) == -1)
				YYERROR;
		}
		| KEYFILE STRING		{
			if (check_abspath("bot key-file", $2,
			    &conf->sc_bot.bc_keyfile) == -1)
				YYERROR;
			if (load_bot_key(conf->sc_bot.bc_keyfile) == -1)
				YYERROR;
		}
		| STREAM STRING			{
			if (set_bot_stream($2) == -1)
				YYERROR;
		}
		| ADMINS { nwords = words_over = 0; } words {
			if (add_bot_people("admins", &conf->sc_bot.bc_admins)
			    == -1)
				YYERROR;
		}
		| USERS { nwords = words_over = 0; } words {
			if (add_bot_people("users", &conf->sc_bot.bc_users)
			    == -1)
				YYERROR;
		}
		| CAFILE STRING			{
			if (check_abspath("bot ca-file", $2,
			    &conf->sc_bot.bc_cafile) == -1)
				YYERROR;
			free(conf->sc_bot.bc_ca_pem);
			conf->sc_bot.bc_ca_pem = NULL;
			if (load_ca("bot", conf->sc_bot.bc_cafile,
			    &conf->sc_bot.bc_ca_pem) == -1)
				YYERROR;
		}
		;

provider	: PROVIDER STRING		{
			curprov = add_provider($2);
			free($2);
			$2 = NULL;	/* error recovery may still pop it */
			if (curprov == NULL)
				YYERROR;
		} optnl '{' optnl provideropts '}'	{
			int	 r = curprov != NULL ? end_provider() : 0;

			curprov = NULL;
			if (r == -1)
				YYERROR;
		}
		;

provideropts	: /* empty */
		| provideropts provideropt '\n' optnl
		| provideropts error '\n'	{ yyerrok; }
		;

provideropt	: KEYFILE STRING		{
			if (set_provider_keyfile($2) == -1)
				YYERROR;
		}
		| UPSTREAM STRING		{
			if (set_provider_upstream($2) == -1)
				YYERROR;
		}
		| CAFILE STRING			{
			if (check_abspath(provider_what("ca-file"), $2,
			    &curprov->pv_cafile) == -1)
				YYERROR;
			free(curprov->pv_ca_pem);
			curprov->pv_ca_pem = NULL;
			if (load_ca(provider_what(NULL), curprov->pv_cafile,
			    &curprov->pv_ca_pem) == -1)
				YYERROR;
		}
		| BUDGET NUMBER TOKENS PER DAY	{
			if (check_range(provider_what("budget"), $2, 1,
			    PROVIDER_BUDGET_LIMIT) == -1)
				YYERROR;
			curprov->pv_budget = $2;
		}
		;

github		: GITHUB			{
			start_github();
		} optnl '{' optnl githubopts '}'	{
			if (end_github() == -1)
				YYERROR;
		}
		;

githubopts	: /* empty */
		| githubopts githubopt '\n' optnl
		| githubopts error '\n'	{ yyerrok; }
		;

githubopt	: APPID NUMBER			{
			if ($2 <= 0) {
				yyerror("github app-id %lld: a positive "
				    "number is needed", (long long)$2);
				YYERROR;
			}
			curgh->gh_app_id = $2;
		}
		| INSTALLATIONID NUMBER		{
			if ($2 <= 0) {
				yyerror("github installation-id %lld: a "
				    "positive number is needed",
				    (long long)$2);
				YYERROR;
			}
			curgh->gh_installation_id = $2;
		}
		| APPKEYFILE STRING		{
			if (set_github_appkey($2) == -1)
				YYERROR;
		}
		| TOKENFILE STRING		{
			if (set_github_tokenfile($2) == -1)
				YYERROR;
		}
		| UPSTREAM STRING		{
			if (set_github_upstream(0, $2) == -1)
				YYERROR;
		}
		| APIUPSTREAM STRING		{
			if (set_github_upstream(1, $2) == -1)
				YYERROR;
		}
		| CAFILE STRING			{
			if (set_github_ca($2) == -1)
				YYERROR;
		}
		;

optwords	: /* empty */
		| words
		;

words		: word
		| words word
		;

word		: STRING			{
			if (add_word($1) == -1)
				YYERROR;
		}
		| NUMBER			{
			char	*w;

			if (asprintf(&w, "%lld", $1) == -1) {
				nomem();
				YYERROR;
			}
			if (add_word(w) == -1)
				YYERROR;
		}
		;

optnl		: '\n' optnl
		| /* empty */
		;

%%

struct keywords {
	const char	*k_name;
	int		 k_val;
};

/* Keep sorted: lookup() uses bsearch. */
static const struct keywords keywords[] = {
	{ "access",		ACCESS },
	{ "admins",		ADMINS },
	{ "agent",		AGENT },
	{ "allow",		ALLOW },
	{ "anchor",		ANCHOR },
	{ "api-upstream",	APIUPSTREAM },
	{ "app-id",		APPID },
	{ "app-key-file",	APPKEYFILE },
	{ "args",		ARGS },
	{ "ask",		ASK },
	{ "block",		BLOCK },
	{ "bot",		BOT },
	{ "budget",		BUDGET },
	{ "buffer",		BUFFER },
	{ "ca-file",		CAFILE },
	{ "cgroup",		CGROUP },
	{ "check",		CHECK },
	{ "connect",		CONNECT },
	{ "control",		CONTROL },
	{ "cpu-weight",		CPUWEIGHT },
	{ "day",		DAY },
	{ "default",		DEFAULT },
	{ "email",		EMAIL },
	{ "env",		ENV },
	{ "firewall",		FIREWALL },
	{ "github",		GITHUB },
	{ "group",		GROUP },
	{ "header",		HEADER },
	{ "home",		HOME },
	{ "hosts-file",		HOSTSFILE },
	{ "idle",		IDLE },
	{ "include",		INCLUDE },
	{ "installation-id",	INSTALLATIONID },
	{ "interface",		INTERFACE },
	{ "key-file",		KEYFILE },
	{ "level",		LEVEL },
	{ "limit",		LIMIT },
	{ "limits",		LIMITS },
	{ "listen",		LISTEN },
	{ "log",		LOG },
	{ "loopback",		LOOPBACK },
	{ "max",		MAX },
	{ "memory",		MEMORY },
	{ "mode",		MODE },
	{ "nameserver",		NAMESERVER },
	{ "nftables",		NFTABLES },
	{ "no",			NO },
	{ "on",			ON },
	{ "once",		ONCE },
	{ "path",		PATH },
	{ "per",		PER },
	{ "pf",			PF },
	{ "pfmon",		PFMON },
	{ "pidfile",		PIDFILE },
	{ "policy",		POLICY },
	{ "port",		PORT },
	{ "port-range",		PORTRANGE },
	{ "ports",		PORTS },
	{ "private",		PRIVATE },
	{ "processes",		PROCESSES },
	{ "provider",		PROVIDER },
	{ "providers",		PROVIDERS },
	{ "proxy",		PROXY },
	{ "queue",		QUEUE },
	{ "resolver",		RESOLVER },
	{ "sandbox",		SANDBOX },
	{ "sessions",		SESSIONS },
	{ "shell",		SHELL },
	{ "site",		SITE },
	{ "sni",		SNI },
	{ "socket",		SOCKET },
	{ "splice",		SPLICE },
	{ "state",		STATE },
	{ "stream",		STREAM },
	{ "table",		TABLE },
	{ "timeout",		TIMEOUT },
	{ "token-file",		TOKENFILE },
	{ "tokens",		TOKENS },
	{ "type",		TYPE },
	{ "uid-range",		UIDRANGE },
	{ "upstream",		UPSTREAM },
	{ "user",		USER },
	{ "users",		USERS },
	{ "window",		WINDOW },
	{ "yes",		YES },
};

/* Report an error at the current line, once per line. */
static int
yyerror(const char *fmt, ...)
{
	va_list	 ap;
	char	*msg, *line;
	int	 lineno = yylval.lineno;

	/* A specific message was given already; skip the generic one. */
	if (lineno == errline && errfile == file->name &&
	    strcmp(fmt, "syntax error") == 0)
		return (0);
	file->errors++;
	errline = lineno;
	errfile = file->name;
	if (strcmp(fmt, "syntax error") == 0) {
		if (asprintf(&msg, "syntax error %s", lasttok) == -1)
			msg = NULL;
	} else {
		va_start(ap, fmt);
		if (vasprintf(&msg, fmt, ap) == -1)
			msg = NULL;
		va_end(ap);
	}
	if (msg == NULL || asprintf(&line, "%s:%d: %s", file->name, lineno,
	    msg) == -1)
		parse_nomem = 1;	/* counted; reported at the end */
	else {
		if (errors != NULL)
			json_array_append_new(errors, json_string(line));
		free(line);
	}
	free(msg);
	return (0);
}

/* Remember the token just read, for "syntax error near ...". */
static void
lex_remember(const char *s)
{
	if (s == NULL)
		snprintf(lasttok, sizeof(lasttok), "at end of line");
	else if (strlen(s) > 24)
		snprintf(lasttok, sizeof(lasttok), "near \"%.24s...\"", s);
	else
		snprintf(lasttok, sizeof(lasttok), "near \"%s\"", s);
}

static int
kw_cmp(const void *k, const void *e)
{
	return (strcmp(k, ((const struct keywords *)e)->k_name));
}

/* Whether the keyword table is sorted, for the unit tests. */
int
parse_keywords_sorted(void)
{
	size_t	 i;

	for (i = 1; i < sizeof(keywords) / sizeof(keywords[0]); i++)
		if (strcmp(keywords[i - 1].k_name, keywords[i].k_name) >= 0)
			return (0);
	return (1);
}

static int
lookup(const char *s)
{
	const struct keywords	*p;

	p = bsearch(s, keywords, sizeof(keywords) / sizeof(keywords[0]),
	    sizeof(keywords[0]), kw_cmp);
	return (p != NULL ? p->k_val : STRING);
}

/* Next byte of the current file, or of pushed-back text. */
static int
igetc(void)
{
	int	 c;

	if (file->ungetpos > 0)
		return (file->ungetbuf[--file->ungetpos]);
	c = getc(file->stream);
	if (c == EOF)
		file->eof_reached = 1;
	return (c);
}

/*
 * Next character for the lexer.  Outside quotes a backslash before a
 * newline joins the lines; at the end of an included file we return to
 * the file that included it, as if its last line ended there.
 */
static int
lgetc(int quotec)
{
	int	 c, next;

	if (quotec) {
		if ((c = igetc()) == EOF) {
			yyerror("reached end of file inside quoted string");
			if (file == topfile || popfile() == EOF)
				return (EOF);
			return (quotec);
		}
		return (c);
	}
	while ((c = igetc()) == '\\') {
		next = igetc();
		if (next != '\n') {
			c = next;
			break;
		}
		yylval.lineno = file->lineno;
		file->lineno++;
	}
	if (c == EOF && file != topfile && popfile() != EOF) {
		/*
		 * End the included file's last line here.  yylex counts
		 * the newline on the including file's line, so undo that.
		 */
		file->lineno--;
		return ('\n');
	}
	return (c);
}

/* Push c back, to be read again. */
static void
lungetc(int c)
{
	if (c == EOF)
		return;
	if (file->ungetpos >= file->ungetsize) {
		void	*p;

		p = reallocarray(file->ungetbuf, file->ungetsize, 2);
		if (p == NULL) {
			nomem();	/* c is lost, the parse fails */
			return;
		}
		file->ungetbuf = p;
		file->ungetsize *= 2;
	}
	file->ungetbuf[file->ungetpos++] = c;
}

/* Skip to the end of the line after an error. */
static int
findeol(void)
{
	int	 c;

	/* Leave the newline: the grammar's error rule resumes at it. */
	while ((c = lgetc(0)) != '\n' && c != EOF)
		;	/* nothing */
	lungetc(c);
	return (ERROR);
}

/* Whether c may appear in an unquoted word. */
static int
allowed_in_word(int c)
{
	if (isalnum(c))
		return (1);
	if (!ispunct(c))
		return (0);
	switch (c) {
	case '(': case ')': case '{': case '}': case '<': case '>':
	case '!': case '=': case '#': case ',': case '"': case '\'':
	case '$':
		return (0);
	}
	return (1);
}

static int
yylex(void)
{
	int	 c, first;

top:
	first = stmt_start;
	stmt_start = 0;
	while ((c = lgetc(0)) == ' ' || c == '\t')
		;	/* nothing */
	yylval.lineno = file->lineno;
	if (c == '#')
		while ((c = lgetc(0)) != '\n' && c != EOF)
			;	/* nothing */
	if (c == '$') {
		if (lex_macro() == -1)
			return (findeol());
		stmt_start = first;
		goto top;
	}
	switch (c) {
	case '\'':
	case '"':
		return (lex_quoted(c));
	case '\n':
		lex_remember(NULL);
		yylval.lineno = file->lineno;
		file->lineno++;
		stmt_start = 1;
		return (c);
	case '{':
		lex_remember("{");
		stmt_start = 1;
		return (c);
	case EOF:
		snprintf(lasttok, sizeof(lasttok), "at end of file");
		return (0);
	}
	if (c == '-' || isdigit(c) || allowed_in_word(c)) {
		lungetc(c);
		return (lex_word(first));
	}
	if (c == '=' || c == '}') {
		lex_remember(c == '=' ? "=" : "}");
		return (c);
	}
	if (isprint(c))
		yyerror("unexpected character '%c'", c);
	else
		yyerror("unexpected byte 0x%02x", c);
	return (findeol());
}

/* Replace $name by the macro's value, pushed back to be lexed again. */
static int
lex_macro(void)
{
	char	 buf[PARSE_STRING_MAX];
	char	*p, *val;
	int	 c, quote;

	p = buf;
	while ((c = lgetc(0)) != EOF && (isalnum(c) || c == '_')) {
		*p++ = c;
		if (p - buf >= (ptrdiff_t)sizeof(buf) - 1) {
			yyerror("macro name too long");
			return (-1);
		}
	}
	*p = '\0';
	lungetc(c);
	if (p == buf) {
		yyerror("$ without a macro name");
		return (-1);
	}
	if ((val = symget(buf)) == NULL) {
		yyerror("macro \"%s\" is not defined", buf);
		return (-1);
	}
	/*
	 * The value is lexed again as one word: bare if it is a plain word
	 * (so a number stays a number), quoted otherwise.
	 */
	for (p = val, quote = (*val == '\0'); *p != '\0'; p++) {
		if (*p == '"' || *p == '\\' || *p == '\n') {
			yyerror("macro \"%s\" holds a quote, backslash or "
			    "newline", buf);
			return (-1);
		}
		if (!allowed_in_word((unsigned char)*p))
			quote = 1;
	}
	if (quote)
		lungetc('"');
	for (p = val + strlen(val); p > val; p--)
		lungetc((unsigned char)p[-1]);
	if (quote)
		lungetc('"');
	return (0);
}

/* A quoted string; \" and \\ are escapes, a newline is an error. */
static int
lex_quoted(int quotec)
{
	char	 buf[PARSE_STRING_MAX];
	char	*p = buf;
	int	 c, next;

	for (;;) {
		if ((c = lgetc(quotec)) == EOF)
			return (0);
		if (c == '\n') {
			yyerror("unterminated quoted string");
			lungetc(c);
			return (ERROR);
		}
		if (c == quotec)
			break;
		if (c == '\\') {
			if ((next = lgetc(quotec)) == EOF)
				return (0);
			if (next != quotec && next != '\\') {
				yyerror("unknown escape \\%c in string",
				    isprint(next) ? next : '?');
				lungetc(next);
				return (findeol());
			}
			c = next;
		} else if (c == '\0' || (iscntrl(c) && c != '\t')) {
			yyerror("control character in quoted string");
			return (findeol());
		}
		if (p - buf >= (ptrdiff_t)sizeof(buf) - 1) {
			yyerror("string too long");
			return (findeol());
		}
		*p++ = c;
	}
	*p = '\0';
	lex_remember(buf);
	if ((yylval.v.string = strdup(buf)) == NULL) {
		nomem();
		return (findeol());
	}
	return (STRING);
}

/*
 * A bare word: a keyword, a number, or a string.  A word that starts a
 * statement and is neither a keyword nor a macro assignment is reported
 * as an unknown keyword rather than a bare syntax error.
 */
static int
lex_word(int first)
{
	char		 buf[PARSE_STRING_MAX];
	char		*p = buf;
	const char	*errstr = NULL;
	long long	 n;
	int		 c, token, digits = 1;

	while ((c = lgetc(0)) != EOF && (allowed_in_word(c) || c == '-')) {
		if (p - buf >= (ptrdiff_t)sizeof(buf) - 1) {
			yyerror("string too long");
			return (findeol());
		}
		if (!isdigit(c) && !(c == '-' && p == buf))
			digits = 0;
		*p++ = c;
	}
	lungetc(c);
	*p = '\0';
	lex_remember(buf);
	if (digits && p > buf && !(p == buf + 1 && buf[0] == '-')) {
		errno = 0;
		n = strtoll(buf, NULL, 10);
		if (errno == ERANGE)
			errstr = "too large";
		if (errstr == NULL) {
			yylval.v.number = n;
			return (NUMBER);
		}
		yyerror("number %s is %s", buf, errstr);
		return (findeol());
	}
	if ((token = lookup(buf)) != STRING)
		return (token);
	if (first) {
		while ((c = lgetc(0)) == ' ' || c == '\t')
			;	/* nothing */
		lungetc(c);
		if (c != '=') {
			yyerror("unknown keyword \"%s\"", buf);
			return (findeol());
		}
	}
	if ((yylval.v.string = strdup(buf)) == NULL) {
		nomem();
		return (findeol());
	}
	return (STRING);
}

/* Open name and make it the current file. */
static struct file *
pushfile(const char *name, int depth)
{
	struct file	*nfile;
	FILE		*stream;

	if (depth > PARSE_INCLUDE_DEPTH) {
		yyerror("include \"%s\": nested too deeply", name);
		return (NULL);
	}
	if ((stream = parse_fopen(name)) == NULL) {
		if (file != NULL)
			yyerror("include \"%s\": %s", name, strerror(errno));
		else
			json_array_append_new(errors, json_sprintf("%s: %s",
			    name, strerror(errno)));
		return (NULL);
	}
	if ((nfile = calloc(1, sizeof(*nfile))) == NULL ||
	    (nfile->name = strdup(name)) == NULL ||
	    (nfile->ungetbuf = malloc(PARSE_UNGET)) == NULL) {
		if (nfile != NULL)
			free(nfile->name);
		free(nfile);
		fclose(stream);
		nomem();
		return (NULL);
	}
	nfile->stream = stream;
	nfile->lineno = depth == 0 ? 1 : 0;	/* include pushes a newline */
	nfile->depth = depth;
	nfile->ungetsize = PARSE_UNGET;
	TAILQ_INSERT_TAIL(&files, nfile, entry);
	return (nfile);
}

static FILE *
parse_fopen(const char *path)
{
	return (parse_fopen_hook != NULL ? parse_fopen_hook(path) :
	    fopen(path, "re"));
}

/* A user name as useradd takes it: [a-z_][a-z0-9_-]*, 32 at most. */
static int
user_name_ok(const char *s)
{
	size_t	 i;

	if (s[0] == '\0' || strlen(s) > 32 ||
	    !(islower((unsigned char)s[0]) || s[0] == '_'))
		return (0);
	for (i = 1; s[i] != '\0'; i++)
		if (!islower((unsigned char)s[i]) &&
		    !isdigit((unsigned char)s[i]) && s[i] != '_' &&
		    s[i] != '-')
			return (0);
	return (1);
}

/* Close the current file and go back to the one that included it. */
static int
popfile(void)
{
	struct file	*prev;

	if ((prev = TAILQ_PREV(file, files, entry)) != NULL)
		prev->errors += file->errors;
	TAILQ_REMOVE(&files, file, entry);
	fclose(file->stream);
	free(file->name);
	free(file->ungetbuf);
	free(file);
	file = prev;
	return (file != NULL ? 0 : EOF);
}

/* An include path relative to the including file's directory, or NULL. */
static char *
include_path(const char *name)
{
	const char	*slash;
	char		*path;

	if (name[0] == '/' || (slash = strrchr(file->name, '/')) == NULL)
		path = strdup(name);
	else if (asprintf(&path, "%.*s/%s", (int)(slash - file->name),
	    file->name, name) == -1)
		path = NULL;
	if (path == NULL)
		nomem();
	return (path);
}

/*
 * Memory ran out: one more error on the current file, and the parse
 * fails with "out of memory"; a reload keeps the running config.
 */
static int
nomem(void)
{
	parse_nomem = 1;
	if (file != NULL)
		file->errors++;
	return (-1);
}

/*
 * Parse filename into a new config.  Returns NULL when there were errors,
 * each appended to errs as "file:line: message".
 */
struct sbxd_config *
parse_config(const char *filename, json_t *errs)
{
	struct sym	*sym;
	int		 nerr;

	errors = errs;
	errline = 0;
	errfile = NULL;
	sandbox_where[0] = '\0';
	providers_where[0] = '\0';
	curprov = NULL;
	curgh = NULL;
	config_github_clear(&gh_dud);
	bot_started = 0;
	stmt_start = 1;
	file = NULL;
	parse_nomem = 0;
	if ((conf = config_new()) == NULL) {
		json_array_append_new(errors, json_sprintf("%s: out of memory",
		    filename));
		return (NULL);
	}
	if ((file = pushfile(filename, 0)) == NULL) {
		if (parse_nomem)
			json_array_append_new(errors, json_sprintf("%s: out of "
			    "memory", filename));
		config_free(conf);
		return (NULL);
	}
	topfile = file;
	yyparse();
	nerr = file->errors;
	popfile();
	/* A block cut short by a syntax error left its dud here. */
	if (curprov != NULL && !curprov_listed)
		config_provider_free(curprov);
	curprov = NULL;
	config_github_clear(&gh_dud);
	curgh = NULL;
	/* Named before or after their blocks; all are known now. */
	nerr += check_sandbox_providers();
	/* Homes are in the state directory unless sandbox home says. */
	if (nerr == 0 && !conf->sc_sandbox.sbc_home_set &&
	    default_home(conf) == -1)
		nerr++;
	/* Sandboxes need their policy; "default" when none is named. */
	if (nerr == 0 && conf->sc_sandbox.sbc_enabled &&
	    config_policy_find(conf, conf->sc_sandbox.sbc_policy) == NULL) {
		json_array_append_new(errors, json_sprintf("%s: new sandboxes "
		    "get policy \"%s\", which is not defined: define it, or "
		    "name another with sandbox policy", sandbox_where,
		    conf->sc_sandbox.sbc_policy));
		nerr++;
	}
	if (parse_nomem)
		json_array_append_new(errors, json_sprintf("%s: out of memory",
		    filename));

	/* A macro that was set but never used is probably a typo. */
	TAILQ_FOREACH(sym, &symhead, entry) {
		if (!sym->used && !sym->persist)
			log_debug("%s: macro \"%s\" not used", filename,
			    sym->nam);
	}
	symclear();
	if (nerr > 0) {
		config_free(conf);
		return (NULL);
	}
	return (conf);
}

/* Sandbox homes in the state directory (made absolute already). */
static int
default_home(struct sbxd_config *c)
{
	const char	*st = c->sc_state;
	size_t		 len = strlen(st);
	char		*home;

	while (len > 1 && st[len - 1] == '/')
		len--;
	if (len > 2 && strcmp(st + len - 2, "/.") == 0)
		len -= 2;
	if (asprintf(&home, "%.*s/home", len == 1 ? 0 : (int)len, st) == -1) {
		parse_nomem = 1;
		return (-1);
	}
	free(c->sc_sandbox.sbc_home);
	c->sc_sandbox.sbc_home = home;
	return (0);
}

static int
symset(const char *nam, const char *val, int persist)
{
	struct sym	*sym;

	TAILQ_FOREACH(sym, &symhead, entry) {
		if (strcmp(nam, sym->nam) == 0)
			break;
	}
	if (sym != NULL) {
		if (sym->persist)
			return (0);
		free(sym->nam);
		free(sym->val);
		TAILQ_REMOVE(&symhead, sym, entry);
		free(sym);
	}
	if ((sym = calloc(1, sizeof(*sym))) == NULL)
		return (-1);
	if ((sym->nam = strdup(nam)) == NULL ||
	    (sym->val = strdup(val)) == NULL) {
		free(sym->nam);
		free(sym);
		return (-1);
	}
	sym->persist = persist;
	TAILQ_INSERT_TAIL(&symhead, sym, entry);
	return (0);
}

/* name = value in the file.  Takes name and val. */
static int
macro_set(char *name, char *val)
{
	const char	*s;
	int		 r = 0;

	for (s = name; *s != '\0'; s++) {
		if (!isalnum((unsigned char)*s) && *s != '_') {
			yyerror("macro name \"%s\" may hold only letters, "
			    "digits and _", name);
			r = -1;
			break;
		}
	}
	if (r == 0 && symset(name, val, 0) == -1)
		r = nomem();
	free(name);
	free(val);
	return (r);
}

/* Drop the file's macros; -D macros stay for the next reload. */
static void
symclear(void)
{
	struct sym	*sym, *next;

	TAILQ_FOREACH_SAFE(sym, &symhead, entry, next) {
		sym->used = 0;
		if (sym->persist)
			continue;
		TAILQ_REMOVE(&symhead, sym, entry);
		free(sym->nam);
		free(sym->val);
		free(sym);
	}
}

/* Define a macro from -D name=value; it overrides the file's. */
int
cmdline_symset(const char *s)
{
	const char	*val, *p;
	char		*nam;
	int		 r;

	if ((val = strchr(s, '=')) == NULL || val == s)
		return (-1);
	for (p = s; p < val; p++)
		if (!isalnum((unsigned char)*p) && *p != '_')
			return (-1);
	if ((nam = malloc(val - s + 1)) == NULL)
		return (-1);
	memcpy(nam, s, val - s);
	nam[val - s] = '\0';
	r = symset(nam, val + 1, 1);
	free(nam);
	return (r);
}

static char *
symget(const char *nam)
{
	struct sym	*sym;

	TAILQ_FOREACH(sym, &symhead, entry) {
		if (strcmp(nam, sym->nam) == 0) {
			sym->used = 1;
			return (sym->val);
		}
	}
	return (NULL);
}

/*
 * Check a path from the config and store it, made absolute against the
 * current directory so that the daemon's chdir does not move it.
 * Takes s.
 */
static int
check_path(char *s, char **dst)
{
	char	 cwd[SBXD_PATH_MAX];
	char	*path, *rel = s;

	if (*s == '\0' || strlen(s) >= SBXD_PATH_MAX) {
		yyerror("path \"%s\" is empty or too long", s);
		free(s);
		return (-1);
	}
	if (s[0] == '/')
		path = s;
	else {
		if (getcwd(cwd, sizeof(cwd)) == NULL) {
			yyerror("relative path \"%s\": getcwd: %s", s,
			    strerror(errno));
			free(s);
			return (-1);
		}
		while (rel[0] == '.' && rel[1] == '/')
			rel += 2;
		if (asprintf(&path, "%s/%s", cwd, rel) == -1) {
			free(s);
			return (nomem());
		}
		free(s);
	}
	free(*dst);
	*dst = path;
	return (0);
}

/* Check a name used in the config: printable, not empty, not too long. */
static int
check_name(const char *what, const char *s)
{
	const char	*p;

	if (*s == '\0' || strlen(s) > SBXD_NAME_MAX) {
		yyerror("%s name \"%s\" is empty or longer than %d", what, s,
		    SBXD_NAME_MAX);
		return (-1);
	}
	for (p = s; *p != '\0'; p++) {
		if (!isalnum((unsigned char)*p) && *p != '-' && *p != '_' &&
		    *p != '.') {
			yyerror("%s name \"%s\": only letters, digits, "
			    "'-', '_' and '.' are allowed", what, s);
			return (-1);
		}
	}
	return (0);
}

/* control group: a group name or number that exists on this host. */
static int
set_group(const char *name)
{
	struct group	*gr;
	const char	*p;

	for (p = name; isdigit((unsigned char)*p); p++)
		;	/* nothing */
	if (*p == '\0' && p != name)
		gr = getgrgid((gid_t)strtoul(name, NULL, 10));
	else
		gr = getgrnam(name);
	if (gr == NULL) {
		yyerror("control group \"%s\" does not exist", name);
		return (-1);
	}
	free(conf->sc_group);
	if ((conf->sc_group = strdup(gr->gr_name)) == NULL)
		return (nomem());
	conf->sc_gid = gr->gr_gid;
	return (0);
}

static int
add_nameserver(const char *addr, long long port)
{
	struct sbxd_nameserver	*ns;

	if ((ns = calloc(1, sizeof(*ns))) == NULL)
		return (nomem());
	if (util_addr_parse(addr, port, &ns->ns_ss, &ns->ns_sslen) == -1) {
		yyerror("nameserver \"%s\" is not an IPv4 or IPv6 address",
		    addr);
		free(ns);
		return (-1);
	}
	TAILQ_INSERT_TAIL(&conf->sc_nameservers, ns, ns_entry);
	return (0);
}

/*
 * A path useradd and the shell profiles take as given (absolute, no
 * ".", ".." or empty parts, no blanks, ':' or '\\'), stored in dst.
 * Takes s.
 */
static int
check_abspath(const char *what, char *s, char **dst)
{
	if (!config_path_ok(s)) {
		yyerror("%s \"%s\": an absolute path without . or .. parts, "
		    "blanks, ':' or '\\' is needed", what, s);
		free(s);
		return (-1);
	}
	free(*dst);
	*dst = s;
	return (0);
}

/*
 * bot KIND { ... }: one bot, of a kind sbxd speaks (zulip).  A second
 * block, or one of another kind, is reported and its lines still parsed
 * (the config is refused anyway).
 */
static int
start_bot(const char *kind)
{
	if (bot_started) {
		yyerror("bot defined twice (one bot block, please)");
		return (0);
	}
	bot_started = 1;
	bot_errors = file->errors;
	if (strcmp(kind, "zulip") != 0)
		yyerror("bot \"%s\": only zulip is known", kind);
	conf->sc_bot.bc_on = 1;
	return (0);
}

/* The end of the bot block: site, email, key-file, stream, admins. */
static int
end_bot(void)
{
	struct bot_conf	*bc = &conf->sc_bot;
	const char	*miss = NULL;

	if (!bc->bc_on || file->errors != bot_errors)
		return (0);	/* reported already */
	if (bc->bc_site == NULL)
		miss = "site (the Zulip server's https:// address)";
	else if (bc->bc_email == NULL)
		miss = "email (the bot's address)";
	else if (bc->bc_keyfile == NULL)
		miss = "key-file (a root-only file holding its API key)";
	else if (bc->bc_stream == NULL)
		miss = "stream (where sandboxes are driven)";
	else if (bc->bc_admins == NULL)
		miss = "admins (who may create and allow)";
	if (miss != NULL) {
		yyerror("bot zulip has no %s", miss);
		return (-1);
	}
	return (0);
}

/*
 * site: an https:// address of a host, with an optional port and path,
 * without user, query or fragment; a trailing '/' is dropped.  Frees s.
 */
static int
set_bot_site(char *s)
{
	const char	*host;
	size_t		 len = strlen(s), i;

	host = s + strlen("https://");
	if (strncmp(s, "https://", strlen("https://")) != 0 ||
	    *host == '\0' || *host == '/' || *host == ':' ||
	    strcspn(s, "@?# \t\\\"") != len) {
		yyerror("bot site \"%s\": an https:// address such as "
		    "https://chat.example.org is needed", s);
		free(s);
		return (-1);
	}
	for (i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x21 || (unsigned char)s[i] > 0x7e) {
			yyerror("bot site \"%s\": an https:// address such "
			    "as https://chat.example.org is needed", s);
			free(s);
			return (-1);
		}
	while (len > strlen("https://x") && s[len - 1] == '/')
		s[--len] = '\0';
	free(conf->sc_bot.bc_site);
	conf->sc_bot.bc_site = s;
	return (0);
}

/* An email address as Zulip shows it: one '@', no blanks.  */
static int
bot_email_ok(const char *s)
{
	const char	*at = strchr(s, '@');
	size_t		 i;

	if (at == NULL || at == s || at[1] == '\0' ||
	    strchr(at + 1, '@') != NULL || strlen(s) > 254)
		return (0);
	for (i = 0; s[i] != '\0'; i++)
		if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f
		    || s[i] == '"' || s[i] == '\\')
			return (0);
	return (1);
}

/* email: the bot's.  Frees s. */
static int
set_bot_email(char *s)
{
	if (!bot_email_ok(s)) {
		yyerror("bot email \"%s\": an address such as "
		    "sbx-bot@chat.example.org is needed", s);
		free(s);
		return (-1);
	}
	free(conf->sc_bot.bc_email);
	conf->sc_bot.bc_email = s;
	return (0);
}

/* stream: a channel name, 1 to 60 characters, no control bytes. */
static int
set_bot_stream(char *s)
{
	size_t	 i, n = 0;

	for (i = 0; s[i] != '\0'; i++) {
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			break;
		if (((unsigned char)s[i] & 0xc0) != 0x80)
			n++;
	}
	if (s[i] != '\0' || n == 0 || n > 60) {
		yyerror("bot stream \"%s\": a channel name of 1 to 60 "
		    "characters is needed", s);
		free(s);
		return (-1);
	}
	free(conf->sc_bot.bc_stream);
	conf->sc_bot.bc_stream = s;
	return (0);
}

/*
 * admins/users WORD...: each an email address or a Zulip user id,
 * added to *list.  Takes the words.
 */
static int
add_bot_people(const char *what, char ***list)
{
	char		**av, **nl;
	size_t		  n = 0, m, i;
	const char	 *w;
	long long	  id;
	int		  bad = 0;

	if ((av = take_words()) == NULL)
		return (-1);
	for (i = 0; av[i] != NULL; i++) {
		w = av[i];
		if (strspn(w, "0123456789") == strlen(w)) {
			errno = 0;
			id = strtoll(w, NULL, 10);
			if (errno != 0 || id < 1 || id > INT32_MAX) {
				yyerror("bot %s %s: a user id from 1 to %d "
				    "is needed", what, w, INT32_MAX);
				bad = 1;
			}
		} else if (!bot_email_ok(w)) {
			yyerror("bot %s \"%s\": an email address or a user "
			    "id is needed", what, w);
			bad = 1;
		}
	}
	for (; *list != NULL && (*list)[n] != NULL; n++)
		;
	m = i;
	if (!bad && n + m > BOT_ENTRIES_MAX) {
		yyerror("bot %s: more than %d entries", what,
		    BOT_ENTRIES_MAX);
		bad = 1;
	}
	if (bad || (nl = reallocarray(*list, n + m + 1,
	    sizeof(*nl))) == NULL) {
		for (i = 0; av[i] != NULL; i++)
			free(av[i]);
		free(av);
		return (bad ? -1 : nomem());
	}
	for (i = 0; i < m; i++)
		nl[n + i] = av[i];
	nl[n + m] = NULL;
	*list = nl;
	free(av);
	return (0);
}

/* The bot's API key, read now (see load_key). */
static int
load_bot_key(const char *path)
{
	char	 key[BOT_KEY_MAX + 1];
	size_t	 len;

	if (conf->sc_bot.bc_key != NULL) {
		explicit_bzero(conf->sc_bot.bc_key,
		    strlen(conf->sc_bot.bc_key));
		free(conf->sc_bot.bc_key);
		conf->sc_bot.bc_key = NULL;
	}
	if (load_key("bot key-file", path, key, sizeof(key), &len) == -1)
		return (-1);
	conf->sc_bot.bc_key = strdup(key);
	explicit_bzero(key, sizeof(key));
	if (conf->sc_bot.bc_key == NULL)
		return (nomem());
	return (0);
}

/*
 * A file holding a secret, opened for reading: a regular file owned by
 * root that only root may read (mode 0600 or 0400), else a file:line
 * error naming what and path, and NULL.
 */
static FILE *
open_secret(const char *what, const char *path)
{
	struct stat	 st;
	FILE		*fp;

	if ((fp = parse_fopen(path)) == NULL) {
		yyerror("%s \"%s\": %s", what, path, strerror(errno));
		return (NULL);
	}
	if (fstat(fileno(fp), &st) == -1)
		yyerror("%s \"%s\": %s", what, path, strerror(errno));
	else if (!S_ISREG(st.st_mode))
		yyerror("%s \"%s\" is not a regular file", what, path);
	else if (st.st_uid != 0 || (st.st_mode & 077) != 0)
		yyerror("%s \"%s\" must be root's and for root "
		    "alone (owner uid %u, mode %04o): chown root and chmod "
		    "600 it", what, path, (unsigned)st.st_uid,
		    (unsigned)(st.st_mode & 07777));
	else
		return (fp);
	fclose(fp);
	return (NULL);
}

/*
 * An API key or token, read now for "what path" (what names the line,
 * such as "bot key-file"): the file must be a regular file that only
 * its owner, root, may read or write, holding the key on its first line
 * (printable ASCII, no blanks, at most keysize - 1 bytes).  Anything
 * else stops sbxd from starting.  The key is copied into key, NUL
 * terminated, its length in *keylen.  It is read with read(2), not
 * stdio, so that no buffer but ours, wiped before we return, ever holds
 * it.
 */
static int
load_key(const char *what, const char *path, char *key, size_t keysize,
    size_t *keylen)
{
	FILE		*fp;
	char		 buf[PROVIDER_KEY_MAX + 3];
	size_t		 max = keysize - 1, n = 0, len, i;
	ssize_t		 r;
	int		 fd, ret = -1;

	if (max > PROVIDER_KEY_MAX)
		max = PROVIDER_KEY_MAX;
	if ((fp = open_secret(what, path)) == NULL)
		return (-1);
	fd = fileno(fp);
	/* Enough for the longest key and its newline, and one more. */
	while (n < max + 2 && memchr(buf, '\n', n) == NULL) {
		if ((r = read(fd, buf + n, max + 2 - n)) == -1) {
			if (errno == EINTR)
				continue;
			yyerror("%s \"%s\": %s", what, path,
			    strerror(errno));
			goto done;
		}
		if (r == 0)
			break;
		n += r;
	}
	for (len = 0; len < n && buf[len] != '\n' && buf[len] != '\r'; len++)
		;	/* nothing */
	if (len > max) {
		yyerror("%s \"%s\": the key is longer than %zu "
		    "bytes", what, path, max);
		goto done;
	}
	for (i = 0; i < len; i++)
		if ((unsigned char)buf[i] <= 0x20 ||
		    (unsigned char)buf[i] >= 0x7f)
			break;
	if (len == 0 || i != len) {
		yyerror("%s \"%s\": no key on its first line (the "
		    "key, printable, without blanks)", what, path);
		goto done;
	}
	memcpy(key, buf, len);
	key[len] = '\0';
	*keylen = len;
	ret = 0;
done:
	explicit_bzero(buf, sizeof(buf));
	fclose(fp);
	return (ret);
}

/*
 * The model APIs the credential gateway knows, in the order of its enum
 * proxy_api_provider (proxy/proxy_api_route.h), and the host each is
 * reached at without an upstream line.
 */
static const struct {
	const char	*name;
	const char	*host;
} parse_providers[] = {
	{ "anthropic",	"api.anthropic.com" },
	{ "openai",	"api.openai.com" },
	{ "google",	"generativelanguage.googleapis.com" },
	{ "openrouter",	"openrouter.ai" },
};

/*
 * provider NAME { ... }: a new provider, in the config at once so that
 * a second block of the same name is caught.  An unknown or duplicate
 * name is reported and the block still parsed, into a dud thrown away
 * at its end.  NULL if memory ran out.
 */
static struct provider_conf *
add_provider(const char *name)
{
	struct provider_conf	*pv, *o;
	size_t			 i;

	if (curprov != NULL && !curprov_listed)
		config_provider_free(curprov);	/* one cut short */
	curprov = NULL;
	provider_errors = file->errors;
	for (i = 0; i < nitems(parse_providers); i++)
		if (strcmp(parse_providers[i].name, name) == 0)
			break;
	if (i == nitems(parse_providers))
		yyerror("unknown provider \"%s\" (anthropic, openai, google "
		    "or openrouter)", name);
	else if ((o = config_provider_find(conf, name)) != NULL)
		yyerror("provider \"%s\" defined twice (first at %s)", name,
		    o->pv_where);
	if ((pv = calloc(1, sizeof(*pv))) == NULL ||
	    (pv->pv_name = strdup(name)) == NULL) {
		free(pv);
		nomem();
		return (NULL);
	}
	pv->pv_type = i < nitems(parse_providers) ? (int)i : -1;
	snprintf(pv->pv_where, sizeof(pv->pv_where), "%s:%d", file->name,
	    yylval.lineno);
	curprov_listed = file->errors == provider_errors;
	if (curprov_listed)
		TAILQ_INSERT_TAIL(&conf->sc_providers, pv, pv_entry);
	return (pv);
}

/*
 * The end of a provider block: a key-file is needed; without an
 * upstream line the provider's own API is used.  A dud is freed.
 */
static int
end_provider(void)
{
	struct provider_conf	*pv = curprov;

	if (!curprov_listed) {
		config_provider_free(pv);
		return (0);	/* reported already */
	}
	if (file->errors != provider_errors)
		return (0);
	if (pv->pv_key == NULL) {
		yyerror("provider \"%s\": no key-file (a root-only file "
		    "holding its API key)", pv->pv_name);
		return (-1);
	}
	if (pv->pv_up_host == NULL) {
		if ((pv->pv_up_host = strdup(parse_providers[pv->pv_type].host))
		    == NULL || (pv->pv_up_prefix = strdup("")) == NULL)
			return (nomem());
		pv->pv_up_port = 443;
		pv->pv_up_trusted = 0;
	}
	return (0);
}

/* "provider "NAME" opt" for messages; opt NULL: without it. */
static const char *
provider_what(const char *opt)
{
	static char	 what[128];

	snprintf(what, sizeof(what), "provider \"%.64s\"%s%s",
	    curprov->pv_name, opt != NULL ? " " : "", opt != NULL ? opt : "");
	return (what);
}

/*
 * key-file: the provider's API key, read now into locked memory (see
 * load_key); a reload reads it again.  Takes s.
 */
static int
set_provider_keyfile(char *s)
{
	struct provider_conf	*pv = curprov;

	if (check_abspath(provider_what("key-file"), s, &pv->pv_keyfile) ==
	    -1)
		return (-1);
	util_secret_free(pv->pv_key, pv->pv_keysize);
	pv->pv_key = NULL;
	pv->pv_keylen = 0;
	pv->pv_keysize = PROVIDER_KEY_MAX + 1;
	if ((pv->pv_key = util_secret_alloc(pv->pv_keysize)) == NULL)
		return (nomem());
	if (load_key(provider_what("key-file"), pv->pv_keyfile, pv->pv_key,
	    pv->pv_keysize, &pv->pv_keylen) == -1) {
		util_secret_free(pv->pv_key, pv->pv_keysize);
		pv->pv_key = NULL;
		pv->pv_keylen = 0;
		return (-1);
	}
	return (0);
}

/*
 * upstream URL: where the provider's API is reached instead of its own,
 * a gateway or a test server.  Its address is trusted as written: the
 * proxy does not filter it as it filters a sandbox's destinations.
 * Takes s.
 */
static int
set_provider_upstream(char *s)
{
	struct provider_conf	*pv = curprov;
	const char		*why;
	char			*host = NULL, *prefix = NULL;
	in_port_t		 port;

	if ((why = upstream_parse(s, &host, &port, &prefix)) != NULL) {
		if (*why != '\0')
			yyerror("%s \"%s\": %s", provider_what("upstream"), s,
			    why);
		free(s);
		return (why[0] != '\0' ? -1 : nomem());
	}
	free(pv->pv_upstream);
	free(pv->pv_up_host);
	free(pv->pv_up_prefix);
	pv->pv_upstream = s;
	pv->pv_up_host = host;
	pv->pv_up_port = port;
	pv->pv_up_prefix = prefix;
	pv->pv_up_trusted = 1;
	return (0);
}

/*
 * github { ... }: GitHub for sandboxes with repositories.  One block: a
 * second is reported and its lines still parsed, into a dud thrown away
 * at its end.
 */
static void
start_github(void)
{
	struct github_conf	*gh = &conf->sc_github;

	config_github_clear(&gh_dud);
	github_errors = file->errors;
	if (gh->gh_on) {
		yyerror("github defined twice (first at %s)", gh->gh_where);
		curgh = &gh_dud;
		return;
	}
	gh->gh_on = 1;
	snprintf(gh->gh_where, sizeof(gh->gh_where), "%s:%d", file->name,
	    yylval.lineno);
	curgh = gh;
}

/*
 * The end of the github block: a token-file is needed; without upstream
 * or api-upstream lines GitHub's own hosts are used, their addresses
 * filtered as a sandbox's destinations are.
 */
static int
end_github(void)
{
	struct github_conf	*gh = curgh;

	curgh = NULL;
	if (gh == &gh_dud) {
		config_github_clear(&gh_dud);
		return (0);	/* reported already */
	}
	if (gh == NULL || file->errors != github_errors)
		return (0);
	if (gh->gh_token != NULL && (gh->gh_app_id != 0 ||
	    gh->gh_app_key != NULL || gh->gh_installation_id != 0)) {
		yyerror("github: token-file or a GitHub App (app-id, "
		    "app-key-file, installation-id), not both");
		return (-1);
	}
	if (gh->gh_token == NULL && gh->gh_app_id == 0 &&
	    gh->gh_app_key == NULL && gh->gh_installation_id == 0) {
		yyerror("github: no token-file (a root-only file holding a "
		    "fine-grained GitHub token), nor a GitHub App");
		return (-1);
	}
	if (gh->gh_token == NULL && (gh->gh_app_id == 0 ||
	    gh->gh_app_key == NULL || gh->gh_installation_id == 0)) {
		yyerror("github: a GitHub App needs app-id, app-key-file and "
		    "installation-id");
		return (-1);
	}
	if (gh->gh_up_host == NULL) {
		if ((gh->gh_up_host = strdup(GITHUB_HOST)) == NULL ||
		    (gh->gh_up_prefix = strdup("")) == NULL)
			return (nomem());
		gh->gh_up_port = 443;
		gh->gh_up_trusted = 0;
	}
	if (gh->gh_api_host == NULL) {
		if ((gh->gh_api_host = strdup(GITHUB_API_HOST)) == NULL ||
		    (gh->gh_api_prefix = strdup("")) == NULL)
			return (nomem());
		gh->gh_api_port = 443;
		gh->gh_api_trusted = 0;
	}
	return (0);
}

/*
 * token-file: the GitHub token, read now into locked memory (see
 * load_key); a reload reads it again.  Takes s.
 */
static int
set_github_tokenfile(char *s)
{
	struct github_conf	*gh = curgh;

	if (check_abspath("github token-file", s, &gh->gh_tokenfile) == -1)
		return (-1);
	util_secret_free(gh->gh_token, gh->gh_tokensize);
	gh->gh_token = NULL;
	gh->gh_tokenlen = 0;
	gh->gh_tokensize = GITHUB_TOKEN_MAX + 1;
	if ((gh->gh_token = util_secret_alloc(gh->gh_tokensize)) == NULL)
		return (nomem());
	if (load_key("github token-file", gh->gh_tokenfile, gh->gh_token,
	    gh->gh_tokensize, &gh->gh_tokenlen) == -1) {
		util_secret_free(gh->gh_token, gh->gh_tokensize);
		gh->gh_token = NULL;
		gh->gh_tokenlen = 0;
		return (-1);
	}
	return (0);
}

/*
 * app-key-file: the GitHub App's private key (PEM, RSA), read now into
 * locked memory and checked; a reload reads it again.  Takes s.
 */
static int
set_github_appkey(char *s)
{
	struct github_conf	*gh = curgh;

	if (check_abspath("github app-key-file", s, &gh->gh_app_keyfile) ==
	    -1)
		return (-1);
	util_secret_free(gh->gh_app_key, gh->gh_app_keysize);
	gh->gh_app_key = NULL;
	gh->gh_app_keylen = 0;
	gh->gh_app_keysize = GITHUB_APP_KEY_MAX + 1;
	if ((gh->gh_app_key = util_secret_alloc(gh->gh_app_keysize)) == NULL)
		return (nomem());
	if (load_app_key(gh->gh_app_keyfile, gh->gh_app_key,
	    gh->gh_app_keysize, &gh->gh_app_keylen) == -1) {
		util_secret_free(gh->gh_app_key, gh->gh_app_keysize);
		gh->gh_app_key = NULL;
		gh->gh_app_keylen = 0;
		return (-1);
	}
	return (0);
}

/*
 * A GitHub App's private key: a root-only regular file, as load_key
 * wants, holding one RSA private key in PEM, read whole with read(2)
 * into key (keysize bytes, the last for a NUL).
 */
static int
load_app_key(const char *path, char *key, size_t keysize, size_t *keylen)
{
	EVP_PKEY	*pk = NULL;
	BIO		*bio = NULL;
	FILE		*fp;
	size_t		 n = 0;
	ssize_t		 r;
	int		 fd, ret = -1;

	if ((fp = open_secret("github app-key-file", path)) == NULL)
		return (-1);
	fd = fileno(fp);
	while (n < keysize - 1) {
		if ((r = read(fd, key + n, keysize - 1 - n)) == -1) {
			if (errno == EINTR)
				continue;
			yyerror("github app-key-file \"%s\": %s", path,
			    strerror(errno));
			goto done;
		}
		if (r == 0)
			break;
		n += r;
	}
	key[n] = '\0';
	if (n == keysize - 1) {
		yyerror("github app-key-file \"%s\": larger than %d bytes",
		    path, GITHUB_APP_KEY_MAX);
		goto done;
	}
	if ((bio = BIO_new_mem_buf(key, (int)n)) == NULL) {
		nomem();
		goto done;
	}
	pk = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
	ERR_clear_error();
	if (pk == NULL || EVP_PKEY_base_id(pk) != EVP_PKEY_RSA) {
		yyerror("github app-key-file \"%s\": no RSA private key in "
		    "PEM (the .pem file GitHub gives an App)", path);
		goto done;
	}
	*keylen = n;
	ret = 0;
done:
	EVP_PKEY_free(pk);
	BIO_free(bio);
	if (ret == -1)
		explicit_bzero(key, keysize);
	fclose(fp);
	return (ret);
}

/*
 * upstream URL (api 0) or api-upstream URL (api 1): where GitHub's git
 * hosting or its REST API is reached instead, a mirror or a test
 * server, trusted as written.  Takes s.
 */
static int
set_github_upstream(int api, char *s)
{
	struct github_conf	*gh = curgh;
	const char		*why;
	char			*host = NULL, *prefix = NULL;
	in_port_t		 port;

	if ((why = upstream_parse(s, &host, &port, &prefix)) != NULL) {
		if (*why != '\0')
			yyerror("github %s \"%s\": %s", api ? "api-upstream" :
			    "upstream", s, why);
		free(s);
		return (why[0] != '\0' ? -1 : nomem());
	}
	if (api) {
		free(gh->gh_api_upstream);
		free(gh->gh_api_host);
		free(gh->gh_api_prefix);
		gh->gh_api_upstream = s;
		gh->gh_api_host = host;
		gh->gh_api_port = port;
		gh->gh_api_prefix = prefix;
		gh->gh_api_trusted = 1;
	} else {
		free(gh->gh_upstream);
		free(gh->gh_up_host);
		free(gh->gh_up_prefix);
		gh->gh_upstream = s;
		gh->gh_up_host = host;
		gh->gh_up_port = port;
		gh->gh_up_prefix = prefix;
		gh->gh_up_trusted = 1;
	}
	return (0);
}

/* ca-file: the certificates the upstreams are checked with.  Takes s. */
static int
set_github_ca(char *s)
{
	struct github_conf	*gh = curgh;

	if (check_abspath("github ca-file", s, &gh->gh_cafile) == -1)
		return (-1);
	free(gh->gh_ca_pem);
	gh->gh_ca_pem = NULL;
	return (load_ca("github", gh->gh_cafile, &gh->gh_ca_pem));
}

/*
 * Split an upstream URL: https://, a host (a DNS name, an IPv4 address
 * or an IPv6 address in brackets), an optional port, an optional path
 * prefix kept without its trailing '/'.  NULL when it is one, with
 * *host and *prefix allocated; else why not, or "" if memory ran out.
 */
static const char *
upstream_parse(char *s, char **host, in_port_t *port, char **prefix)
{
	struct in6_addr	 in6;
	const char	*p, *auth, *path, *hend, *colon;
	char		*end;
	size_t		 plen;
	long		 n;

	if (strncmp(s, "https://", strlen("https://")) != 0)
		return ("an https:// address such as "
		    "https://api.example.com:8443/prefix is needed");
	for (p = s; *p != '\0'; p++)
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f)
			return ("blanks and control characters are not "
			    "allowed");
	auth = s + strlen("https://");
	path = auth + strcspn(auth, "/?#");
	if (memchr(auth, '@', path - auth) != NULL)
		return ("no user name or password may be given");
	if (strchr(s, '?') != NULL)
		return ("no query may be given");
	if (strchr(s, '#') != NULL)
		return ("no fragment may be given");
	if (*auth == '[') {
		if ((hend = memchr(auth, ']', path - auth)) == NULL)
			return ("an IPv6 address needs its closing ']'");
		colon = hend + 1 < path ? hend + 1 : NULL;
		if (colon != NULL && *colon != ':')
			return ("a ':' and a port, or nothing, must follow "
			    "the IPv6 address");
		if ((*host = strndup(auth + 1, hend - auth - 1)) == NULL)
			return ("");
		if (inet_pton(AF_INET6, *host, &in6) != 1) {
			free(*host);
			*host = NULL;
			return ("the host is not an IPv6 address");
		}
	} else {
		colon = memchr(auth, ':', path - auth);
		hend = colon != NULL ? colon : path;
		if ((*host = strndup(auth, hend - auth)) == NULL)
			return ("");
		if (!upstream_host_ok(*host)) {
			free(*host);
			*host = NULL;
			return ("the host must be a DNS name, an IPv4 address "
			    "or an IPv6 address in brackets");
		}
	}
	*port = 443;
	if (colon != NULL) {
		errno = 0;
		n = strtol(colon + 1, &end, 10);
		if (!isdigit((unsigned char)colon[1]) || end != path ||
		    errno != 0 || n < 1 || n > 65535) {
			free(*host);
			*host = NULL;
			return ("the port must be a number from 1 to 65535");
		}
		*port = (in_port_t)n;
	}
	plen = strlen(path);
	while (plen > 0 && path[plen - 1] == '/')
		plen--;
	if ((*prefix = strndup(path, plen)) == NULL) {
		free(*host);
		*host = NULL;
		return ("");
	}
	if (!upstream_path_ok(*prefix)) {
		free(*host);
		free(*prefix);
		*host = *prefix = NULL;
		return ("the path must be segments of URL path "
		    "characters, none empty, \".\" or \"..\"");
	}
	return (NULL);
}

/*
 * A DNS name (labels of letters, digits and '-', not at either end, of
 * 63 at most, 253 in all) or an IPv4 address in dotted decimal.
 */
static int
upstream_host_ok(const char *h)
{
	struct in_addr	 in;
	const char	*p;
	size_t		 n;

	if (*h == '\0' || strlen(h) > 253)
		return (0);
	if (strspn(h, "0123456789.") == strlen(h))
		return (inet_pton(AF_INET, h, &in) == 1);
	for (p = h; ; p += n + 1) {
		for (n = 0; isalnum((unsigned char)p[n]) || p[n] == '-'; n++)
			;	/* nothing */
		if (n == 0 || n > 63 || p[0] == '-' || p[n - 1] == '-' ||
		    (p[n] != '.' && p[n] != '\0'))
			return (0);
		if (p[n] == '\0')
			return (1);
	}
}

/*
 * A path prefix as sent upstream before the API's own path: "" or
 * segments after '/', each of URL path characters (RFC 3986 pchar, a
 * '%' followed by two hex digits), none empty, "." or "..".
 */
static int
upstream_path_ok(const char *path)
{
	const char	*p;
	size_t		 n;

	if (*path == '\0')
		return (1);
	for (p = path; *p != '\0'; p += n) {
		if (*p++ != '/')
			return (0);
		for (n = 0; p[n] != '\0' && p[n] != '/'; n++) {
			if (p[n] == '%') {
				if (!isxdigit((unsigned char)p[n + 1]) ||
				    !isxdigit((unsigned char)p[n + 2]))
					return (0);
				n += 2;
			} else if (!isalnum((unsigned char)p[n]) &&
			    strchr("-._~!$&'()*+,;=:@", p[n]) == NULL)
				return (0);
		}
		if (n == 0 || (n == 1 && p[0] == '.') ||
		    (n == 2 && p[0] == '.' && p[1] == '.'))
			return (0);
	}
	return (1);
}

/*
 * sandbox providers NAME...: the providers new sandboxes get, each once.
 * Whether they are defined is checked at the end of the file, since
 * their blocks may come later.  Takes the words.
 */
static int
set_sandbox_providers(void)
{
	char	**av;
	size_t	  i, j;

	if ((av = take_words()) == NULL)
		return (-1);
	if (av[0] == NULL) {
		yyerror("sandbox providers: name at least one provider");
		goto fail;
	}
	for (i = 1; av[i] != NULL; i++)
		for (j = 0; j < i; j++)
			if (strcmp(av[i], av[j]) == 0) {
				yyerror("sandbox providers: \"%s\" is named "
				    "twice", av[i]);
				goto fail;
			}
	for (i = 0; conf->sc_sandbox.sbc_providers != NULL &&
	    conf->sc_sandbox.sbc_providers[i] != NULL; i++)
		free(conf->sc_sandbox.sbc_providers[i]);
	free(conf->sc_sandbox.sbc_providers);
	conf->sc_sandbox.sbc_providers = av;
	snprintf(providers_where, sizeof(providers_where), "%s:%d",
	    file->name, yylval.lineno);
	return (0);
fail:
	for (i = 0; av[i] != NULL; i++)
		free(av[i]);
	free(av);
	return (-1);
}

/* The errors of a sandbox providers line naming undefined providers. */
static int
check_sandbox_providers(void)
{
	char	**av = conf->sc_sandbox.sbc_providers;
	int	  n = 0;

	for (; av != NULL && *av != NULL; av++)
		if (config_provider_find(conf, *av) == NULL) {
			json_array_append_new(errors, json_sprintf("%s: "
			    "sandbox providers: provider \"%s\" is not defined "
			    "(a provider block is needed)", providers_where,
			    *av));
			n++;
		}
	return (n);
}

/*
 * The certificates of a sandbox ca-file, read now (as root: sandboxes
 * get a copy, as they may not read the file) and checked with OpenSSL:
 * PEM certificates only, at least one, at most SANDBOX_CA_MAX bytes.
 */
static int
load_ca(const char *what, const char *path, char **pem)
{
	BIO		*bio = NULL;
	X509		*x;
	FILE		*fp;
	char		*buf = NULL;
	size_t		 len;
	int		 n = 0, ret = -1;

	if ((fp = parse_fopen(path)) == NULL) {
		yyerror("%s ca-file \"%s\": %s", what, path, strerror(errno));
		return (-1);
	}
	if ((buf = calloc(1, SANDBOX_CA_MAX + 1)) == NULL) {
		fclose(fp);
		return (nomem());
	}
	len = fread(buf, 1, SANDBOX_CA_MAX + 1, fp);
	if (ferror(fp))
		yyerror("%s ca-file \"%s\": %s", what, path, strerror(errno));
	else if (len > SANDBOX_CA_MAX)
		yyerror("%s ca-file \"%s\": larger than %d bytes", what, path,
		    SANDBOX_CA_MAX);
	else if (memchr(buf, '\0', len) != NULL)
		yyerror("%s ca-file \"%s\": not PEM text", what, path);
	else if ((bio = BIO_new_mem_buf(buf, (int)len)) == NULL)
		nomem();
	else {
		while ((x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
			X509_free(x);
			n++;
		}
		ERR_clear_error();
		if (n == 0)
			yyerror("%s ca-file \"%s\": no PEM certificate",
			    what, path);
		else {
			*pem = buf;
			buf = NULL;
			ret = 0;
		}
	}
	BIO_free(bio);
	free(buf);
	fclose(fp);
	return (ret);
}

/* A firewall table or anchor name the backend accepts.  Frees s. */
static int
check_ident(const char *what, char *s)
{
	int	 anchor = strcmp(what, "anchor") == 0;

	if ((anchor ? config_fw_anchor_ok(s) : config_fw_table_ok(s)) &&
	    strlen(s) <= SANDBOX_FW_NAME_MAX)
		return (0);
	if (anchor)
		yyerror("anchor \"%s\": parts of letters, digits, '_', '.' "
		    "and '-' between '/', none empty, \".\", \"..\" or "
		    "starting with '_', up to %d in all, are needed", s,
		    SANDBOX_FW_NAME_MAX);
	else
		yyerror("table \"%s\": a letter, then letters, digits and "
		    "'_', up to %d, are needed", s, SANDBOX_FW_NAME_MAX);
	free(s);
	return (-1);
}

/*
 * The group of an "nflog:N" interface, which the firewall rules log to;
 * -1 for any other interface (pflog0).
 */
static int
check_nflog(const char *iface, int *group)
{
	const char	*g = iface + strlen(PFMON_NFLOG_PREFIX);
	char		*end;
	long		 n;

	*group = -1;
	if (strncmp(iface, PFMON_NFLOG_PREFIX, strlen(PFMON_NFLOG_PREFIX)) != 0)
		return (0);
	errno = 0;
	n = strtol(g, &end, 10);
	if (!isdigit((unsigned char)*g) || *end != '\0' || errno != 0 ||
	    n > PFMON_NFLOG_GROUP_MAX) {
		yyerror("pfmon interface \"%s\": an nflog group from 0 to %d "
		    "is needed", iface, PFMON_NFLOG_GROUP_MAX);
		return (-1);
	}
	*group = n;
	return (0);
}

/* A range first-last inside [min, max]. */
static int
check_pair(const char *what, long long first, long long last, long long min,
    long long max)
{
	if (first < min || last > max || first > last) {
		yyerror("%s %lld %lld: a range inside %lld-%lld, first "
		    "not above last, is needed", what, first, last, min, max);
		return (-1);
	}
	return (0);
}

/*
 * sandbox limits memory: a number of bytes (n), or a size or "none"
 * (s, when n is -1), inside SANDBOX_MEMORY_MIN-SANDBOX_MEMORY_LIMIT.
 */
static int
set_memory(long long n, const char *s)
{
	char		 given[32], min[32], max[32];
	uint64_t	 bytes;

	if (s != NULL && strcmp(s, "none") == 0) {
		conf->sc_sandbox.sbc_memory = 0;
		return (0);
	}
	if (s != NULL && config_size_parse(s, &bytes) == -1) {
		yyerror("sandbox limits memory \"%s\": a size such as 512M "
		    "or 4G, or none, is needed", s);
		return (-1);
	}
	if (s == NULL) {
		bytes = n < 0 ? 0 : (uint64_t)n;
		snprintf(given, sizeof(given), "%lld", n);
	}
	if (bytes < SANDBOX_MEMORY_MIN || bytes > SANDBOX_MEMORY_LIMIT) {
		yyerror("sandbox limits memory %s out of range (%s-%s)",
		    s != NULL ? s : given,
		    config_size_str(SANDBOX_MEMORY_MIN, min, sizeof(min)),
		    config_size_str(SANDBOX_MEMORY_LIMIT, max, sizeof(max)));
		return (-1);
	}
	conf->sc_sandbox.sbc_memory = bytes;
	return (0);
}

/* A number in [min, max], or an error naming the setting. */
static int
check_range(const char *what, long long v, long long min, long long max)
{
	if (v < min || v > max) {
		yyerror("%s %lld out of range (%lld-%lld)", what, v, min, max);
		return (-1);
	}
	return (0);
}

static int
add_listen(const char *addr, long long port, const char *polname,
    long long maxsessions)
{
	struct proxy_listen	*pl, *o;
	char			 buf[128];

	if ((pl = calloc(1, sizeof(*pl))) == NULL)
		return (nomem());
	if (util_addr_parse(addr, port, &pl->pl_ss, &pl->pl_sslen) == -1) {
		yyerror("listen address \"%s\" is not an IPv4 or IPv6 "
		    "address", addr);
		free(pl);
		return (-1);
	}
	if ((pl->pl_policy = config_policy_find(conf, polname)) == NULL) {
		yyerror("policy \"%s\" is not defined (define it before the "
		    "listener)", polname);
		free(pl);
		return (-1);
	}
	TAILQ_FOREACH(o, &conf->sc_listens, pl_entry) {
		if (util_sockaddr_cmp((struct sockaddr *)&o->pl_ss,
		    (struct sockaddr *)&pl->pl_ss) == 0) {
			yyerror("proxy listen on %s: duplicate listener",
			    util_sockaddr_str((struct sockaddr *)&pl->pl_ss,
			    buf, sizeof(buf)));
			free(pl);
			return (-1);
		}
	}
	pl->pl_max_sessions = maxsessions;
	TAILQ_INSERT_TAIL(&conf->sc_listens, pl, pl_entry);
	return (0);
}

/*
 * A new policy.  A bad or duplicate name is reported and the block is
 * still parsed, into a nameless policy thrown away at its end, so its
 * contents are checked too.  NULL if memory ran out.
 */
static struct policy *
add_policy(const char *name)
{
	struct policy	*pol;
	int		 ok;

	ok = check_name("policy", name) == 0;
	if (ok && config_policy_find(conf, name) != NULL) {
		yyerror("policy \"%s\" defined twice", name);
		ok = 0;
	}
	if ((pol = calloc(1, sizeof(*pol))) == NULL) {
		nomem();
		return (NULL);
	}
	policy_body_init(&pol->pol_body);
	if (!ok)
		return (pol);
	if ((pol->pol_name = strdup(name)) == NULL) {
		config_policy_free(pol);
		nomem();
		return (NULL);
	}
	TAILQ_INSERT_TAIL(&conf->sc_policies, pol, pol_entry);
	return (pol);
}

/* An allow or block pattern of the current policy. */
static int
add_pattern(const char *pattern)
{
	struct policy_rule	*ru;
	char			 err[256];

	if (policy_rule_parse(pattern, curaction, &ru, err, sizeof(err)) ==
	    -1) {
		yyerror("%s", err);
		return (-1);
	}
	if (policy_rules_find(&curpol->pol_body.pb_rules,
	    policy_rule_text(ru)) != NULL) {
		yyerror("pattern \"%s\" appears twice in the policy",
		    policy_rule_text(ru));
		policy_rule_free(ru);
		return (-1);
	}
	if (policy_rules_add(&curpol->pol_body.pb_rules, ru) == -1)
		return (nomem());	/* it took ru */
	return (0);
}

/*
 * A new agent block.  A bad or duplicate name is reported and the block
 * is still parsed, into a nameless agent thrown away at its end.
 */
static struct agent_conf *
add_agent(const char *name)
{
	struct agent_conf	*ac;
	int			 ok;

	ok = check_name("agent", name) == 0;
	if (ok && config_agent_find(conf, name) != NULL) {
		yyerror("agent \"%s\" defined twice", name);
		ok = 0;
	}
	if ((ac = calloc(1, sizeof(*ac))) == NULL) {
		nomem();
		return (NULL);
	}
	TAILQ_INIT(&ac->ac_modes);
	agent_errors = file->errors;
	ac->ac_timeout = AGENT_TURN_TIMEOUT;
	ac->ac_queue = AGENT_QUEUE;
	snprintf(ac->ac_where, sizeof(ac->ac_where), "%s:%d", file->name,
	    yylval.lineno);
	if (ok && (ac->ac_name = strdup(name)) == NULL) {
		config_agent_free(ac);
		nomem();
		return (NULL);
	}
	if (!ok && (ac->ac_name = strdup("")) == NULL) {
		config_agent_free(ac);
		nomem();
		return (NULL);
	}
	return (ac);
}

/*
 * The end of an agent block: type and path are needed; without a mode
 * line it has one mode, "default", adding nothing.  A good block joins
 * the config, a dud is freed.
 */
static int
end_agent(void)
{
	struct agent_conf	*ac = curagent;
	struct agent_mode	*am;
	int			 r = -1;

	if (*ac->ac_name == '\0' || file->errors != agent_errors)
		goto done;	/* reported already */
	if (!ac->ac_type_set)
		yyerror("agent \"%s\" has no type (claude-code, codex, "
		    "opencode, gemini or command)", ac->ac_name);
	else if (ac->ac_path == NULL)
		yyerror("agent \"%s\" has no path (the program to run, an "
		    "absolute path)", ac->ac_name);
	else {
		if (TAILQ_EMPTY(&ac->ac_modes)) {
			if ((am = calloc(1, sizeof(*am))) == NULL ||
			    (am->am_name = strdup("default")) == NULL) {
				free(am);
				nomem();
				goto done;
			}
			TAILQ_INSERT_TAIL(&ac->ac_modes, am, am_entry);
		}
		TAILQ_INSERT_TAIL(&conf->sc_agents, ac, ac_entry);
		return (0);
	}
done:
	config_agent_free(ac);
	return (r);
}

static int
set_agent_type(const char *s)
{
	int	 type;

	if ((type = config_agent_type_parse(s)) == -1) {
		yyerror("agent type \"%s\": claude-code, codex, opencode, "
		    "gemini or command is needed", s);
		return (-1);
	}
	curagent->ac_type = type;
	curagent->ac_type_set = 1;
	return (0);
}

/*
 * The program of an agent: an absolute path to an executable regular
 * file, checked now, so that no turn finds it missing.  Takes s.
 */
static int
set_agent_path(char *s)
{
	struct stat	 st;

	if (*s != '/' || !config_path_ok(s)) {
		yyerror("agent path \"%s\": an absolute path without . or .. "
		    "parts, blanks, ':' or '\\' is needed", s);
		free(s);
		return (-1);
	}
	if (stat(s, &st) == -1) {
		yyerror("agent path \"%s\": %s", s, strerror(errno));
		free(s);
		return (-1);
	}
	if (!S_ISREG(st.st_mode) || (st.st_mode & 0111) == 0) {
		yyerror("agent path \"%s\" is not an executable file", s);
		free(s);
		return (-1);
	}
	free(curagent->ac_path);
	curagent->ac_path = s;
	return (0);
}

/* One word of an args line; takes w. */
static int
add_word(char *w)
{
	if (nwords == AGENT_ARGS_MAX) {
		if (!words_over)
			yyerror("more than %d arguments", AGENT_ARGS_MAX);
		words_over = 1;
		free(w);
		return (-1);
	}
	words[nwords++] = w;
	return (0);
}

/* Forget the words collected. */
static void
drop_words(void)
{
	int	 i;

	for (i = 0; i < nwords; i++)
		free(words[i]);
	nwords = 0;
}

/* The words collected, as a NULL-terminated array; NULL on error. */
static char **
take_words(void)
{
	char	**av;
	int	  i;

	if (words_over || (av = calloc(nwords + 1, sizeof(*av))) == NULL) {
		for (i = 0; i < nwords; i++)
			free(words[i]);
		if (!words_over)
			nomem();
		nwords = 0;
		return (NULL);
	}
	for (i = 0; i < nwords; i++)
		av[i] = words[i];
	nwords = 0;
	return (av);
}

/*
 * env NAME value: a variable the agent's turns get.  The user's identity
 * (HOME, USER, LOGNAME) is the sandbox's and cannot be set.  Takes both.
 */
static int
add_agent_env(char *name, char *value)
{
	const char	*p;
	char		**env, *kv;
	size_t		 n = 0, len = strlen(name);

	for (p = name; *p != '\0'; p++)
		if (!(isalpha((unsigned char)*p) || *p == '_' ||
		    (p != name && isdigit((unsigned char)*p))))
			break;
	if (*name == '\0' || *p != '\0' || len > 128) {
		yyerror("agent env \"%s\": a variable name of letters, digits "
		    "and '_' is needed", name);
		goto fail;
	}
	if (strcmp(name, "HOME") == 0 || strcmp(name, "USER") == 0 ||
	    strcmp(name, "LOGNAME") == 0) {
		yyerror("agent env \"%s\": the sandbox's user sets it", name);
		goto fail;
	}
	for (env = curagent->ac_env; env != NULL && env[n] != NULL; n++)
		if (strncmp(env[n], name, len) == 0 && env[n][len] == '=') {
			yyerror("agent env \"%s\" given twice", name);
			goto fail;
		}
	if (n == AGENT_ENV_MAX) {
		yyerror("agent \"%s\": more than %d env lines",
		    curagent->ac_name, AGENT_ENV_MAX);
		goto fail;
	}
	if (asprintf(&kv, "%s=%s", name, value) == -1 ||
	    (env = reallocarray(curagent->ac_env, n + 2,
	    sizeof(*env))) == NULL) {
		nomem();
		goto fail;
	}
	env[n] = kv;
	env[n + 1] = NULL;
	curagent->ac_env = env;
	free(name);
	free(value);
	return (0);
fail:
	free(name);
	free(value);
	return (-1);
}

/* mode NAME [args ...]: the words collected are its.  Takes name. */
static int
add_agent_mode(char *name)
{
	struct agent_mode	*am;
	int			 n = 0;

	if (check_name("mode", name) == -1)
		goto fail;
	if (config_agent_mode(curagent, name) != NULL &&
	    !TAILQ_EMPTY(&curagent->ac_modes)) {
		yyerror("agent \"%s\": mode \"%s\" defined twice",
		    curagent->ac_name, name);
		goto fail;
	}
	TAILQ_FOREACH(am, &curagent->ac_modes, am_entry)
		n++;
	if (n == AGENT_MODES_MAX) {
		yyerror("agent \"%s\": more than %d modes", curagent->ac_name,
		    AGENT_MODES_MAX);
		goto fail;
	}
	if ((am = calloc(1, sizeof(*am))) == NULL) {
		nomem();
		goto fail;
	}
	if ((am->am_args = take_words()) == NULL) {
		free(am);
		free(name);
		return (-1);
	}
	am->am_name = name;
	TAILQ_INSERT_TAIL(&curagent->ac_modes, am, am_entry);
	return (0);
fail:
	free(name);
	drop_words();
	return (-1);
}

/* A duration: a number with s, m, h or d; -1 if it is not one. */
static int
parse_duration(const char *s, long long *secs)
{
	long long	 n;
	char		*end;
	int		 unit;

	if (!isdigit((unsigned char)*s))
		return (-1);
	errno = 0;
	n = strtoll(s, &end, 10);
	if (errno != 0 || end[0] == '\0' || end[1] != '\0')
		return (-1);
	switch (*end) {
	case 's':
		unit = 1;
		break;
	case 'm':
		unit = 60;
		break;
	case 'h':
		unit = 3600;
		break;
	case 'd':
		unit = 86400;
		break;
	default:
		return (-1);
	}
	if (n > AGENT_TIMEOUT_LIMIT)
		return (-1);
	*secs = n * unit;
	return (0);
}
