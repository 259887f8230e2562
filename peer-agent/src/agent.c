/* agent.c - the peer-agent daemon (being assembled; see agent.h). */
#include "agent.h"

#include "fb/log.h"

int
pa_agent_run(const struct pa_config *cfg)
{
	(void)cfg;
	log_errx("%s: the daemon is not assembled yet", __func__);
	return 1;
}
