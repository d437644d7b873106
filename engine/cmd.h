/*
 * Subcommands of fare-engine: each gets argv from its own (last) name on,
 * parses it with opt_parse (fare/opt.h) and returns the exit status: 0
 * success, 1 bad input or a failed check, 2 bad usage.
 */
#ifndef ONECITY_CMD_H
#define ONECITY_CMD_H

int	cmd_tariff_check(int argc, char **argv);
int	cmd_price(int argc, char **argv);
int	cmd_certs_init(int argc, char **argv);
int	cmd_certs_device(int argc, char **argv);
int	cmd_certs_revoke(int argc, char **argv);
int	cmd_certs_crl(int argc, char **argv);
int	cmd_certs_acquirer(int argc, char **argv);
int	cmd_serve(int argc, char **argv);
int	cmd_audit_verify(int argc, char **argv);
/* audit card: the statement (cmd-audit-card.c). */
int	cmd_audit_card(int argc, char **argv);
int	cmd_audit_operators(int argc, char **argv);
int	cmd_audit_explain(int argc, char **argv);
int	cmd_deny_add(int argc, char **argv);
int	cmd_deny_remove(int argc, char **argv);
int	cmd_worker(int argc, char **argv);
int	cmd_backup(int argc, char **argv);
/* audit's ledger proofs besides verify (cmd-audit-ledger.c). */
int	cmd_audit_keygen(int argc, char **argv);
int	cmd_audit_checkpoint(int argc, char **argv);
int	cmd_audit_reconcile(int argc, char **argv);
int	cmd_web(int argc, char **argv);

#endif
