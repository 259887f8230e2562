/*
 * main.c - bootstrap-server entry point.
 *
 * The registration and discovery service (ARCHITECTURE.md §4) is not built
 * yet; until it is, this binary answers --help and --version and refuses to
 * pretend to serve.
 */
#include <stdio.h>
#include <string.h>

static void
usage(FILE *f)
{
	fprintf(f, "usage: bootstrap-server [--help] [--version]\n"
		   "\n"
		   "The Flashback bootstrap server: an mTLS HTTPS service on PostgreSQL where\n"
		   "broadcasting peers register and others find them. The service itself is\n"
		   "not implemented in this version; only --help and --version work.\n");
}

int
main(int argc, char **argv)
{
	if (argc == 2 && strcmp(argv[1], "--version") == 0) {
		printf("bootstrap-server %s\n", FB_VERSION);
		return 0;
	}
	if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		usage(stdout);
		return 0;
	}
	if (argc > 1)
		fprintf(stderr, "bootstrap-server: unknown argument '%s'\n", argv[1]);
	else
		fprintf(stderr, "bootstrap-server: the service is not implemented in this "
				"version\n");
	usage(stderr);
	return 2;
}
