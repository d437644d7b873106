/* terminal-sim: simulated validators, tourists and load (see main.c). */
#ifndef ONECITY_SIM_H
#define ONECITY_SIM_H

#include <netinet/in.h>

int	sim_replay(int argc, char **argv);
int	sim_load(int argc, char **argv);
int	sim_idle(int argc, char **argv);
int	sim_acquirer(int argc, char **argv);
int	sim_day(int argc, char **argv);

/*
 * --engine's address list, "HOST:PORT[,HOST:PORT...]" (several gateways):
 * how many it holds, and its (k modulo that)-th address copied into buf
 * (len bytes).  sim_engine_addr returns -1 when that address is empty or
 * longer than buf, else 0.  Shared by replay and load, whose validators
 * start at their own address and move on at every reconnect.
 */
size_t	sim_engine_count(const char *list);
int	sim_engine_addr(const char *list, size_t k, char *buf, size_t len);

#endif
