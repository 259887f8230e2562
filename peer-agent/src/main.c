/*
 * main.c - peer-agent entry point.
 *
 * The gossip daemon, control API and CLI (ARCHITECTURE.md §5-6) are not built
 * yet; until they are, this binary answers --help and --version and refuses
 * to pretend to run.
 */
#include <stdio.h>
#include <string.h>

static void
usage(FILE *f)
{
	fprintf(f, "usage: peer-agent [--help] [--version]\n"
		   "\n"
		   "The Flashback peer agent: a desktop daemon that registers with bootstrap\n"
		   "servers and gossips with other agents to find peers for repositories.\n"
		   "The daemon and its commands are not implemented in this version; only\n"
		   "--help and --version work.\n");
}

int
main(int argc, char **argv)
{
	if (argc == 2 && strcmp(argv[1], "--version") == 0) {
		printf("peer-agent %s\n", FB_VERSION);
		return 0;
	}
	if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		usage(stdout);
		return 0;
	}
	if (argc > 1)
		fprintf(stderr, "peer-agent: unknown argument '%s'\n", argv[1]);
	else
		fprintf(stderr, "peer-agent: the daemon is not implemented in this version\n");
	usage(stderr);
	return 2;
}
