/*
 * attach_prompt.h: moth's terminal at `moth debug -p` (cli_attach.c): the line typed at the
 * debugger's prompt, with what `moth debug` has there when moth's stdin is a terminal:
 * readline's editing, the history moth debug keeps (~/.moth_history, MOTH_HISTORY; read once,
 * written when moth exits) and tab completion as pdb completes, of commands and of names in
 * the program's frame. The program is another process: completion asks it (moth_prompt_ask).
 */
#ifndef MOTH_ATTACH_PROMPT_H
#define MOTH_ATTACH_PROMPT_H

#include <signal.h>
#include <stddef.h>

/* Asks the program for the completions of `request` ("BEGIDX ENDIDX LINE", readline's
 * line buffer and the word's place in it): 0 with *reply (malloc'd: the matches, each ended
 * by a NUL, *len bytes in all), -1 when no answer came. */
typedef int (*moth_prompt_ask)(void *ctx, const char *request, char **reply, size_t *len);

/* The line typed after `prompt` (malloc'd, without its newline), NULL at the end of input.
 * Ctrl-C there only starts a new line, as at pdb's prompt: Python's own SIGINT handler
 * (python_sigint) is put in place while it reads. */
char *moth_prompt_read(const char *prompt, moth_prompt_ask ask, void *ctx,
                       const struct sigaction *python_sigint);

#endif
