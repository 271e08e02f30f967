/*
 * What every agent is told about the workspace it works in, before the
 * repository's own systemPrompt (replicas.json): how to keep servers
 * running, how to publish them with the `replicas` command, and what
 * happens to its work (commits after each turn, the workspace's branch).
 * Handed over the agent's own way (Claude Code: --append-system-prompt;
 * Codex: developer_instructions), and kept as a skill file in the home.
 */

#ifndef RE_INSTRUCTIONS_H
#define RE_INSTRUCTIONS_H

/* the instructions, then the repository's prompt if any: malloc'ed */
char *re_instructions(const char *repository_prompt);

/* the same instructions as a Claude Code skill the agent can look up
 * again: <home>/.claude/skills/replicas/SKILL.md (replaced whole, never
 * through a link); 0, or -1 with errno */
int re_instructions_skill(const char *home);

#endif /* RE_INSTRUCTIONS_H */
