/*
 * score.h - the one peer score: 60 % availability, 40 % performance, both on
 * 0..100. The bootstrap server's SQL ranks peers with the same weights, so
 * they are also given as SQL text (CM_SCORE_SQL).
 */
#ifndef FB_SCORE_H
#define FB_SCORE_H

#define CM_SCORE_W_AVAILABILITY 0.6
#define CM_SCORE_W_PERFORMANCE  0.4

#define CM_SCORE_STR_(x) #x
#define CM_SCORE_STR(x)  CM_SCORE_STR_(x)
/* The score as an SQL expression of two SQL expressions, e.g. CM_SCORE_SQL("s.a", "s.p"). */
#define CM_SCORE_SQL(a, p)                                                                         \
	CM_SCORE_STR(CM_SCORE_W_AVAILABILITY)                                                      \
	" * " a " + " CM_SCORE_STR(CM_SCORE_W_PERFORMANCE) " * " p

/* The score of availability and performance scores. */
static inline double
cm_score(double availability, double performance)
{
	return CM_SCORE_W_AVAILABILITY * availability + CM_SCORE_W_PERFORMANCE * performance;
}

#endif
