/* terminal-sim: simulated validators, tourists and load (see main.c). */
#ifndef ONECITY_SIM_H
#define ONECITY_SIM_H

#include <netinet/in.h>

int	sim_replay(int argc, char **argv);
int	sim_load(int argc, char **argv);
int	sim_idle(int argc, char **argv);
int	sim_acquirer(int argc, char **argv);
int	sim_day(int argc, char **argv);

#endif
