/*
 * `replicas`, the command line inside a workspace (the engine's binary
 * under another name, /opt/replicas/bin/replicas): what an agent or a
 * person in the workspace uses to publish what it runs.
 *   replicas preview create <port> [--public]
 *   replicas preview list
 *   replicas preview delete <port>
 *   replicas computer info
 *   replicas pr create [--title T] [--draft] [--repo NAME]
 * It talks to the engine on 127.0.0.1:3737 (REPLICAS_ENGINE_URL), which
 * talks to the platform.  --json prints the engine's answer as it is.
 */

#ifndef RE_CLI_H
#define RE_CLI_H

int re_cli_main(int argc, char **argv);

#endif /* RE_CLI_H */
