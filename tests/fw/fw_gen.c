/*
 * fw_gen.c: prints what the nftables backend feeds "nft -f -" for one
 * step, so a test can load it by hand, and checks a listing with the
 * backend's verify.  The table is "sbxd" and the log group 1 unless
 * -g says otherwise (-g -1: no log rule).  The sandbox is restricted
 * unless -o (open) is given.
 *
 * usage: fw_gen [-o] [-g group] init
 *	  fw_gen [-o] [-g group] apply|remove uid port ...
 *	  fw_gen [-o] [-g group] verify uid port ... < "nft -j list" output
 */

#include <sys/types.h>
#include <sys/queue.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "sbxd.h"
#include "sandbox.h"

#define FW_GEN_TABLE	"sbxd"		/* the daemon's default */
#define FW_GEN_GROUP	1		/* any group: nothing need listen */
#define FW_GEN_INPUT	(1024 * 1024)	/* largest listing read */

static void	usage(void) __attribute__((__noreturn__));
static long	fw_gen_number(const char *, long, long);
static int	fw_gen_verify(const struct fw_conf *, const struct fw_sandbox *);

static void
usage(void)
{
	fprintf(stderr, "usage: fw_gen [-o] [-g group] init | "
	    "apply|remove|verify uid port ...\n");
	exit(2);
}

static long
fw_gen_number(const char *s, long min, long max)
{
	char	*end;
	long	 n;

	n = strtol(s, &end, 10);
	if (*s == '\0' || *end != '\0' || n < min || n > max)
		usage();
	return (n);
}

/* Read a listing on stdin and print verify's answer. */
static int
fw_gen_verify(const struct fw_conf *fc, const struct fw_sandbox *fs)
{
	char	*buf, why[256];
	size_t	 n;

	buf = xmalloc(FW_GEN_INPUT + 1);
	n = fread(buf, 1, FW_GEN_INPUT, stdin);
	buf[n] = '\0';
	if (fw_nft_backend.fb_verify(fc, fs, buf, why, sizeof(why)) == -1) {
		printf("verify: %s\n", why);
		free(buf);
		return (1);
	}
	printf("verify: ok\n");
	free(buf);
	return (0);
}

int
main(int argc, char *argv[])
{
	struct fw_conf		 fc = { FW_GEN_TABLE, FW_GEN_GROUP, NULL };
	struct fw_sandbox	 fs;
	struct sandbox_cmdlist	 cl;
	struct sandbox_cmd	*sc;
	const char		*step;
	int			 ch, i, r, open = 0;

	while ((ch = getopt(argc, argv, "g:o")) != -1) {
		switch (ch) {
		case 'g':
			fc.fc_group = fw_gen_number(optarg, -1, 65535);
			break;
		case 'o':
			open = 1;
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 1)
		usage();
	step = argv[0];
	memset(&fs, 0, sizeof(fs));
	fs.fs_name = "fw_gen";
	fs.fs_restricted = !open;
	if (strcmp(step, "init") != 0) {
		if (argc < 3 || argc - 2 > SANDBOX_PORTS_MAX)
			usage();
		fs.fs_uid = fw_gen_number(argv[1], 1, INT_MAX);
		for (i = 2; i < argc; i++)
			fs.fs_ports[fs.fs_nports++] =
			    fw_gen_number(argv[i], 1, 65535);
	}
	if (strcmp(step, "verify") == 0)
		return (fw_gen_verify(&fc, &fs));
	sandbox_cmdlist_init(&cl);
	if (strcmp(step, "init") == 0)
		r = fw_nft_backend.fb_init(&fc, &cl);
	else if (strcmp(step, "apply") == 0)
		r = fw_nft_backend.fb_apply(&fc, &fs, &cl);
	else if (strcmp(step, "remove") == 0)
		r = fw_nft_backend.fb_remove(&fc, &fs, &cl);
	else
		usage();
	if (r == -1) {
		fprintf(stderr, "fw_gen: %s: bad arguments\n", step);
		return (2);
	}
	TAILQ_FOREACH(sc, &cl.cl_cmds, sc_entry)
		if (sc->sc_input != NULL)
			fputs(sc->sc_input, stdout);
	sandbox_cmdlist_free(&cl);
	return (0);
}
