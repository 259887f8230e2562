/* bootreg.c - the bootstrap registration state machine (bootreg.h). */
#include "core/bootreg.h"

static const char *const state_names[] = {"NOT_READY", "REGISTERING", "REGISTERED", "STALE",
					  "UNREGISTERED"};

const char *
bootreg_state_name(enum bootreg_state s)
{
	return state_names[s];
}

void
bootreg_init(struct bootreg *b, int64_t max_heartbeat_ms)
{
	b->state = BOOTREG_NOT_READY;
	b->expires_ms = 0;
	b->heartbeat_ms = max_heartbeat_ms;
	b->max_heartbeat_ms = max_heartbeat_ms;
	overlay_backoff_reset(&b->retry);
}

bool
bootreg_is_registered(const struct bootreg *b)
{
	return b->state == BOOTREG_REGISTERED;
}

bool
bootreg_is_listed(const struct bootreg *b)
{
	return b->state == BOOTREG_REGISTERED || b->state == BOOTREG_STALE;
}

static struct bootreg_step
go(struct bootreg *b, enum bootreg_state to, enum bootreg_do act, int64_t next_ms)
{
	struct bootreg_step s = {b->state, to, act, next_ms};

	b->state = to;
	return s;
}

struct bootreg_step
bootreg_start(struct bootreg *b)
{
	overlay_backoff_reset(&b->retry);
	return go(b, b->state, BOOTREG_NONE, 0);
}

struct bootreg_step
bootreg_due(struct bootreg *b, int64_t now_ms)
{
	if (b->state == BOOTREG_REGISTERED && now_ms < b->expires_ms)
		return go(b, b->state, BOOTREG_HEARTBEAT, -1);
	return go(b, bootreg_is_listed(b) ? b->state : BOOTREG_REGISTERING, BOOTREG_REGISTER, -1);
}

struct bootreg_step
bootreg_send_failed(struct bootreg *b, int64_t mono_ms, struct engine_rng *rng)
{
	return go(b, b->state, BOOTREG_NONE, overlay_backoff_next(&b->retry, mono_ms, rng));
}

struct bootreg_step
bootreg_register_ok(struct bootreg *b, int64_t expires_ms, int64_t heartbeat_interval_s)
{
	overlay_backoff_reset(&b->retry);
	b->expires_ms = expires_ms;
	b->heartbeat_ms = b->max_heartbeat_ms;
	if (heartbeat_interval_s > 0 && heartbeat_interval_s * 1000 < b->heartbeat_ms)
		b->heartbeat_ms = heartbeat_interval_s * 1000;
	return go(b, BOOTREG_REGISTERED, BOOTREG_NONE, b->heartbeat_ms);
}

struct bootreg_step
bootreg_register_failed(struct bootreg *b, int64_t mono_ms, struct engine_rng *rng)
{
	enum bootreg_state to;

	to = b->state == BOOTREG_REGISTERED ? BOOTREG_STALE : BOOTREG_REGISTERING;
	return go(b, to, BOOTREG_NONE, overlay_backoff_next(&b->retry, mono_ms, rng));
}

struct bootreg_step
bootreg_heartbeat_ok(struct bootreg *b, bool has_expires, int64_t expires_ms)
{
	overlay_backoff_reset(&b->retry);
	if (has_expires)
		b->expires_ms = expires_ms;
	return go(b, BOOTREG_REGISTERED, BOOTREG_NONE, b->heartbeat_ms);
}

struct bootreg_step
bootreg_heartbeat_unknown(struct bootreg *b)
{
	return go(b, BOOTREG_REGISTERING, BOOTREG_REGISTER, -1);
}

struct bootreg_step
bootreg_heartbeat_failed(struct bootreg *b, int64_t mono_ms, struct engine_rng *rng)
{
	return go(b, BOOTREG_STALE, BOOTREG_NONE, overlay_backoff_next(&b->retry, mono_ms, rng));
}

struct bootreg_step
bootreg_stop(struct bootreg *b)
{
	if (bootreg_is_listed(b))
		return go(b, b->state, BOOTREG_UNREGISTER, -1);
	return go(b, BOOTREG_UNREGISTERED, BOOTREG_NONE, -1);
}

struct bootreg_step
bootreg_unregistered(struct bootreg *b)
{
	return go(b, BOOTREG_UNREGISTERED, BOOTREG_NONE, -1);
}
