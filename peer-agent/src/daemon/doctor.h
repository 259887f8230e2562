/*
 * doctor.h - `peer-agent doctor`: checks what users get wrong in an agent's
 * home and surroundings, one line per check with what to do about it.
 */
#ifndef PA_DOCTOR_H
#define PA_DOCTOR_H

#include <stdio.h>

/*
 * Checks the home: its permissions, agent.ini, the identity and the API
 * token, the ports it would listen on, the advertised addresses, and every
 * bootstrap server (reached with the configured CA and our certificate; the
 * clock against its Date header). Prints to out lines of the form
 * "ok|warn|FAIL  CHECK: what was found[; do: what to do]". Returns 0 when
 * no check failed, 1 otherwise.
 */
int pa_doctor(const char *home, FILE *out);

#endif
