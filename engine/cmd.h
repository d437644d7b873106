/* Subcommands of fare-engine: each gets argv from its own name on. */
#ifndef ONECITY_CMD_H
#define ONECITY_CMD_H

int	cmd_tariff_check(int argc, char **argv);
int	cmd_price(int argc, char **argv);
int	cmd_certs(int argc, char **argv);
int	cmd_serve(int argc, char **argv);
int	cmd_audit(int argc, char **argv);
int	cmd_deny(int argc, char **argv);
int	cmd_worker(int argc, char **argv);

#endif
