/*
 * agent.h - the peer-agent daemon: wires the engine, the peer table, the
 * transport, the bootstrap client, the control API and the store onto one
 * libevent loop.
 */
#ifndef PA_AGENT_H
#define PA_AGENT_H

#include "daemon/config.h"

/*
 * Runs the daemon in the foreground until SIGTERM or SIGINT (graceful leave,
 * unregister, save the table). Returns the process exit code: 0 after a clean
 * stop, 1 when it could not start.
 */
int pa_agent_run(const struct pa_config *cfg);

#endif
