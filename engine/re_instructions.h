/*
 * What every agent is told about the workspace it works in, before the
 * repository's own systemPrompt (replicas.json): how to keep servers
 * running, how to publish them with the `replicas` command, and what
 * happens to its work (commits after each turn, the workspace's branch).
 * Handed over the agent's own way (Claude Code: --append-system-prompt;
 * Codex: developer_instructions).
 */

#ifndef RE_INSTRUCTIONS_H
#define RE_INSTRUCTIONS_H

/* the instructions, then the repository's prompt if any: malloc'ed */
char *re_instructions(const char *repository_prompt);

#endif /* RE_INSTRUCTIONS_H */
