/* Subcommands of fare-engine: each gets argv from its own name on. */
#ifndef ONECITY_CMD_H
#define ONECITY_CMD_H

int	cmd_tariff_check(int argc, char **argv);
int	cmd_price(int argc, char **argv);
int	cmd_certs(int argc, char **argv);
int	cmd_serve(int argc, char **argv);
int	cmd_audit(int argc, char **argv);
int	cmd_deny(int argc, char **argv);
/* audit's ledger proofs (cmd-audit-ledger.c), argv from the subcommand. */
int	cmd_audit_verify(int argc, char **argv);
int	cmd_audit_keygen(int argc, char **argv);
int	cmd_audit_checkpoint(int argc, char **argv);
int	cmd_audit_reconcile(int argc, char **argv);

#endif
