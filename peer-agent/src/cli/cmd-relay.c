/*
 * cmd-relay.c - `peer-agent relay status`: the reservations the agent holds
 * and grants, the circuits it runs and relays, and the relay counters, from
 * GET /api/v1/relay (docs/protocol.md section 7).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "fb/codec.h"
#include "fb/timeutil.h"

/* A wall clock time as RFC 3339 into out, or "-". */
static const char *
when(int64_t ms, char out[CM_RFC3339_LEN + 1])
{
	if (cm_time_format_ms(ms, out) != 0)
		snprintf(out, CM_RFC3339_LEN + 1, "-");
	return out;
}

static void
print_reservations(const struct cm_relay_status *s)
{
	char since[CM_RFC3339_LEN + 1], until[CM_RFC3339_LEN + 1];

	printf("reservations held (%zu):\n", s->reservations_held.len);
	for (size_t i = 0; i < s->reservations_held.len; i++) {
		const struct cm_relay_held *h = &s->reservations_held.items[i];

		if (h->pending)
			printf("  %-32s pending since %s\n", h->relay, when(h->since_ms, since));
		else
			printf("  %-32s since %s until %s\n", h->relay, when(h->since_ms, since),
			       h->has_expires_at ? when(h->expires_at_ms, until) : "-");
	}
	printf("reservations served (%zu):\n", s->reservations_served.len);
	for (size_t i = 0; i < s->reservations_served.len; i++) {
		const struct cm_relay_served *r = &s->reservations_served.items[i];

		printf("  %-32s since %s until %s\n", r->peer, when(r->since_ms, since),
		       when(r->expires_at_ms, until));
	}
}

static void
print_circuits(const struct cm_relay_status *s)
{
	char since[CM_RFC3339_LEN + 1];

	printf("circuits (%zu):\n", s->circuits.len);
	for (size_t i = 0; i < s->circuits.len; i++) {
		const struct cm_relay_circuit *c = &s->circuits.items[i];

		printf("  %-32s %-3s via %-32s %-7s %12lld bytes  %s %s\n", c->peer,
		       c->inbound ? "in" : "out", c->relay, cm_relay_service_name(c->service),
		       (long long)c->bytes, c->pending ? "pending since" : "since",
		       when(c->since_ms, since));
	}
	printf("circuits served (%zu):\n", s->circuits_served.len);
	for (size_t i = 0; i < s->circuits_served.len; i++) {
		const struct cm_relay_circuit_served *c = &s->circuits_served.items[i];

		printf("  %-32s -> %-32s %-7s %12lld bytes  %s %s\n", c->peer, c->target,
		       cm_relay_service_name(c->service), (long long)c->bytes,
		       c->pending ? "pending since" : "since", when(c->since_ms, since));
	}
}

static void
print_counters(const struct cm_relay_status *s)
{
	const struct cm_relay_refused *r = &s->refused;

	printf("reservations: %lld granted, %lld renewed, %lld refused\n",
	       (long long)s->reservations_granted, (long long)s->reservations_renewed,
	       (long long)s->reservations_refused);
	printf("circuits:     %lld opened, %lld closed, %lld join timeouts, closed by limit: "
	       "%lld byte cap, %lld lifetime\n",
	       (long long)s->circuits_opened, (long long)s->circuits_closed,
	       (long long)s->join_timeouts, (long long)s->closed.byte_cap,
	       (long long)s->closed.lifetime);
	printf("refused:      %lld no_reservation, %lld max_reservations, %lld not_allowed, "
	       "%lld max_circuits, %lld per_peer, %lld per_address, %lld rate, %lld bad_request\n",
	       (long long)r->no_reservation, (long long)r->max_reservations,
	       (long long)r->not_allowed, (long long)r->max_circuits, (long long)r->per_peer,
	       (long long)r->per_address, (long long)r->rate, (long long)r->bad_request);
	printf("relayed:      %lld bytes\n", (long long)s->bytes_relayed);
	printf("ours:         %lld dialed, %lld accepted, %lld failed, %lld bytes carried\n",
	       (long long)s->circuits_dialed, (long long)s->circuits_accepted,
	       (long long)s->circuit_failures, (long long)s->bytes_carried);
}

static void
print_relay_status(const struct cm_relay_status *s)
{
	if (s->serving)
		printf("serving:      yes, on port %d\n", s->relay_port);
	else
		printf("serving:      no\n");
	print_reservations(s);
	print_circuits(s);
	print_counters(s);
}

static int
relay_status(const struct cli_opts *o)
{
	struct pa_config cfg;
	struct cli_answer ans = {0};
	struct cm_relay_status s = {0};
	struct cm_err err;
	char *token;
	long status;
	int rc = 1;

	if (cli_agent_open(o->home, &cfg, &token) != 0)
		return 2;
	status = cli_request(&cfg, token, "GET", "/api/v1/relay", NULL, &ans);
	if (status == 0 || ans.buf == NULL)
		goto done;
	if (status != 200) {
		cli_print_error(status, &ans);
	} else if (o->json) {
		fputs(ans.buf, stdout);
		rc = 0;
	} else if (cm_relay_status_from_text(ans.buf, ans.len, &s, &err) == 0) {
		print_relay_status(&s);
		rc = 0;
	} else {
		fprintf(stderr, "peer-agent: the agent's answer: %s\n", err.msg);
	}
done:
	cm_relay_status_clear(&s);
	free(ans.buf);
	free(token);
	pa_config_clear(&cfg);
	return rc;
}

static int
cmd_relay(const struct cli_opts *o)
{
	if (strcmp(o->args[0], "status") == 0)
		return relay_status(o);
	return cli_wrong_args(o);
}

const struct cli_command cli_cmd_relay = {
	"relay", 1, 1,
	"  relay status                      reservations held and served, circuits, counters\n",
	cmd_relay};
