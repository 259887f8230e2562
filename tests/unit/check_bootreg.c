/* check_bootreg.c - the bootstrap registration state machine, one transition a test. */
#include <check.h>
#include <stdlib.h>

#include "core/bootreg.h"
#include "check_main.h"

#define T0 (1700000000000LL) /* a fixed wall-clock start, ms */

/* An rng that always answers half of the wait, so a jittered wait is the wait itself. */
static uint64_t half;

static uint64_t
fixed_next(void *ctx)
{
	return *(uint64_t *)ctx;
}

static struct engine_rng rng = {fixed_next, &half};

static struct bootreg
fresh(void)
{
	struct bootreg b;

	bootreg_init(&b, 30000);
	half = 500;
	return b;
}

/* b registered until T0 + 60 s. */
static struct bootreg
registered(void)
{
	struct bootreg b = fresh();

	bootreg_due(&b, T0);
	bootreg_register_ok(&b, T0 + 60000, 0);
	return b;
}

START_TEST(test_bootreg_starts_not_ready)
{
	struct bootreg b = fresh();

	ck_assert_int_eq(b.state, BOOTREG_NOT_READY);
	ck_assert_str_eq(bootreg_state_name(b.state), "NOT_READY");
	ck_assert(!bootreg_is_registered(&b));
	ck_assert(!bootreg_is_listed(&b));
}
END_TEST

START_TEST(test_bootreg_start_arms_the_timer_now)
{
	struct bootreg b = fresh();
	struct bootreg_step st = bootreg_start(&b);

	ck_assert_int_eq(st.from, BOOTREG_NOT_READY);
	ck_assert_int_eq(st.to, BOOTREG_NOT_READY);
	ck_assert_int_eq(st.act, BOOTREG_NONE);
	ck_assert_int_eq(st.next_ms, 0);
}
END_TEST

START_TEST(test_bootreg_due_when_not_registered_registers)
{
	struct bootreg b = fresh();
	struct bootreg_step st = bootreg_due(&b, T0);

	ck_assert_int_eq(st.from, BOOTREG_NOT_READY);
	ck_assert_int_eq(st.to, BOOTREG_REGISTERING);
	ck_assert_int_eq(st.act, BOOTREG_REGISTER);
	ck_assert_int_eq(st.next_ms, -1);
}
END_TEST

START_TEST(test_bootreg_register_ok_heartbeats_at_the_smaller_interval)
{
	struct bootreg b = fresh();
	struct bootreg_step st;

	bootreg_due(&b, T0);
	st = bootreg_register_ok(&b, T0 + 60000, 0);
	ck_assert_int_eq(st.from, BOOTREG_REGISTERING);
	ck_assert_int_eq(st.to, BOOTREG_REGISTERED);
	ck_assert_int_eq(st.next_ms, 30000);
	ck_assert(bootreg_is_registered(&b));
	ck_assert_int_eq(b.expires_ms, T0 + 60000);
	st = bootreg_register_ok(&b, T0 + 60000, 10);
	ck_assert_int_eq(st.next_ms, 10000);
	st = bootreg_register_ok(&b, T0 + 60000, 300);
	ck_assert_int_eq(st.next_ms, 30000);
}
END_TEST

START_TEST(test_bootreg_due_while_registered_heartbeats)
{
	struct bootreg b = registered();
	struct bootreg_step st = bootreg_due(&b, T0 + 30000);

	ck_assert_int_eq(st.to, BOOTREG_REGISTERED);
	ck_assert_int_eq(st.act, BOOTREG_HEARTBEAT);
}
END_TEST

START_TEST(test_bootreg_due_after_expiry_registers_again_still_registered)
{
	struct bootreg b = registered();
	struct bootreg_step st = bootreg_due(&b, T0 + 60000);

	ck_assert_int_eq(st.from, BOOTREG_REGISTERED);
	ck_assert_int_eq(st.to, BOOTREG_REGISTERED);
	ck_assert_int_eq(st.act, BOOTREG_REGISTER);
}
END_TEST

START_TEST(test_bootreg_register_failed_retries_with_backoff)
{
	struct bootreg b = fresh();
	struct bootreg_step st;

	bootreg_due(&b, T0);
	st = bootreg_register_failed(&b, 0, &rng);
	ck_assert_int_eq(st.to, BOOTREG_REGISTERING);
	ck_assert_int_eq(st.next_ms, 1000);
	half = 1000;
	st = bootreg_register_failed(&b, 0, &rng);
	ck_assert_int_eq(st.next_ms, 2000);
}
END_TEST

START_TEST(test_bootreg_register_failed_when_registered_goes_stale)
{
	struct bootreg b = registered();
	struct bootreg_step st = bootreg_register_failed(&b, 0, &rng);

	ck_assert_int_eq(st.from, BOOTREG_REGISTERED);
	ck_assert_int_eq(st.to, BOOTREG_STALE);
	ck_assert(bootreg_is_listed(&b));
	ck_assert(!bootreg_is_registered(&b));
}
END_TEST

START_TEST(test_bootreg_heartbeat_ok_keeps_registered_and_takes_new_expiry)
{
	struct bootreg b = registered();
	struct bootreg_step st;

	bootreg_heartbeat_failed(&b, 0, &rng);
	st = bootreg_heartbeat_ok(&b, true, T0 + 90000);
	ck_assert_int_eq(st.from, BOOTREG_STALE);
	ck_assert_int_eq(st.to, BOOTREG_REGISTERED);
	ck_assert_int_eq(st.next_ms, 30000);
	ck_assert_int_eq(b.expires_ms, T0 + 90000);
	bootreg_heartbeat_ok(&b, false, 0);
	ck_assert_int_eq(b.expires_ms, T0 + 90000);
	/* Success resets the backoff: the next failure waits 1 s again. */
	ck_assert_int_eq(bootreg_heartbeat_failed(&b, 0, &rng).next_ms, 1000);
}
END_TEST

START_TEST(test_bootreg_heartbeat_404_registers_again_now)
{
	struct bootreg b = registered();
	struct bootreg_step st = bootreg_heartbeat_unknown(&b);

	ck_assert_int_eq(st.from, BOOTREG_REGISTERED);
	ck_assert_int_eq(st.to, BOOTREG_REGISTERING);
	ck_assert_int_eq(st.act, BOOTREG_REGISTER);
}
END_TEST

START_TEST(test_bootreg_heartbeat_failed_goes_stale_and_retries)
{
	struct bootreg b = registered();
	struct bootreg_step st = bootreg_heartbeat_failed(&b, 0, &rng);

	ck_assert_int_eq(st.to, BOOTREG_STALE);
	ck_assert_int_eq(st.act, BOOTREG_NONE);
	ck_assert_int_eq(st.next_ms, 1000);
}
END_TEST

START_TEST(test_bootreg_send_failed_keeps_state_and_retries)
{
	struct bootreg b = registered();
	struct bootreg_step st = bootreg_send_failed(&b, 0, &rng);

	ck_assert_int_eq(st.from, BOOTREG_REGISTERED);
	ck_assert_int_eq(st.to, BOOTREG_REGISTERED);
	ck_assert_int_eq(st.next_ms, 1000);
}
END_TEST

START_TEST(test_bootreg_stop_when_listed_unregisters)
{
	struct bootreg b = registered();
	struct bootreg_step st = bootreg_stop(&b);

	ck_assert_int_eq(st.to, BOOTREG_REGISTERED);
	ck_assert_int_eq(st.act, BOOTREG_UNREGISTER);
	st = bootreg_unregistered(&b);
	ck_assert_int_eq(st.from, BOOTREG_REGISTERED);
	ck_assert_int_eq(st.to, BOOTREG_UNREGISTERED);
}
END_TEST

START_TEST(test_bootreg_stop_when_not_listed_is_unregistered_at_once)
{
	struct bootreg b = fresh();
	struct bootreg_step st;

	bootreg_due(&b, T0);
	st = bootreg_stop(&b);
	ck_assert_int_eq(st.from, BOOTREG_REGISTERING);
	ck_assert_int_eq(st.to, BOOTREG_UNREGISTERED);
	ck_assert_int_eq(st.act, BOOTREG_NONE);
}
END_TEST

FB_CHECK_MAIN(.name = "bootreg")
