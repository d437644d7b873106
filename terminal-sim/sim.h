/* terminal-sim: simulated validators, tourists and load (see main.c). */
#ifndef ONECITY_SIM_H
#define ONECITY_SIM_H

#include <netinet/in.h>

int	sim_replay(int argc, char **argv);
/* "HOST:PORT" (IPv4) into sin; -1 when malformed. */
int	sim_parse_addr(const char *hp, struct sockaddr_in *sin);

#endif
