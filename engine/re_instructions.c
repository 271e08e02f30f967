/* The agents' standing instructions: see re_instructions.h. */

#define _GNU_SOURCE

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "re_files.h"
#include "re_instructions.h"


static const char  re_instructions_text[] =
    "You work inside a Replicas workspace: an isolated Linux machine with "
    "the repository checked out under /workspace, on a branch of its own "
    "(replicas/<workspace id>).\n"
    "\n"
    "Running things:\n"
    "- Start servers (dev servers, databases, watchers) in the background "
    "so your turn can end while they run, with their output in a file: "
    "`nohup npm run dev > /tmp/dev.log 2>&1 &`. Never run a server in the "
    "foreground, nor as a background task of your own tools (such as "
    "run_in_background): your turn waits for those to end.\n"
    "- Check a server is up before you say it is: `curl -sf "
    "http://127.0.0.1:3000/` or read its log.\n"
    "- Bind servers to 0.0.0.0 (not only 127.0.0.1) so previews reach "
    "them.\n"
    "\n"
    "Showing your work:\n"
    "- `replicas preview create <port>` publishes a port and prints its "
    "URL, which only the team can open; add `--public` only when asked "
    "for a link anyone can open. `replicas preview list` shows them, "
    "`replicas preview delete <port>` removes one. Give the user the URL.\n"
    "- `replicas computer info` shows the workspace and its previews.\n"
    "\n"
    "The desktop (when DISPLAY is set; `replicas computer info` shows "
    "it):\n"
    "- A 1920x1080 screen on $DISPLAY that the team watches live in the "
    "dashboard's Desktop tab. Use it to look at what you build in a real "
    "browser: `nohup chromium --no-sandbox --user-data-dir=/tmp/chromium "
    "http://127.0.0.1:3000/ > /tmp/chromium.log 2>&1 &` (the workspace "
    "is the sandbox: Chromium's own needs namespaces that some machines "
    "refuse inside it). For screenshots or scripted checks, `chromium "
    "--no-sandbox --headless=new --screenshot=/tmp/shot.png URL` needs no "
    "display.\n"
    "\n"
    "Your work:\n"
    "- Everything you change is committed for you at the end of each turn "
    "(authored by the person who asked) and pushed to the workspace's "
    "branch: do not push, force-push or switch branches yourself, and "
    "never commit secrets.\n"
    "- The workspace may sleep between messages; running processes stop "
    "then and the repository's start hook starts them again on wake.\n";


char *
re_instructions(const char *repository_prompt)
{
    char    *out;
    size_t   len;

    len = sizeof(re_instructions_text)
          + (repository_prompt ? strlen(repository_prompt) + 64 : 0);

    out = malloc(len);
    if (out == NULL) {
        return NULL;
    }

    if (repository_prompt && repository_prompt[0]) {
        snprintf(out, len, "%s\nThe repository's own instructions:\n%s\n",
                 re_instructions_text, repository_prompt);
    } else {
        snprintf(out, len, "%s", re_instructions_text);
    }

    return out;
}


int
re_instructions_skill(const char *home)
{
    int     rc;
    char    dir[4096], path[4200], *text;

    static const char  front[] =
        "---\n"
        "name: replicas-workspace\n"
        "description: How this Replicas workspace works: running dev "
        "servers in the background, publishing previews with the replicas "
        "command, and what happens to your changes. Use it before starting "
        "a server or sharing a URL.\n"
        "---\n\n";

    if (home == NULL || home[0] != '/'
        || (size_t) snprintf(dir, sizeof(dir), "%s/.claude/skills/replicas",
                             home) >= sizeof(dir))
    {
        errno = EINVAL;
        return -1;
    }

    snprintf(path, sizeof(path), "%s/SKILL.md", dir);

    if (re_mkdir_p(dir, 0700) != 0
        || asprintf(&text, "%s%s", front, re_instructions_text) < 0)
    {
        return -1;
    }

    rc = re_write_atomic(path, text, strlen(text));
    free(text);

    return rc;
}
