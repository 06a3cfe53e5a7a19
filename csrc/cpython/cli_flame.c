/*
 * cli_flame.c: `moth flame FILE -o flame.html`, the interactive flame graph of a moth file.
 * (`moth profile --flame flame.html` draws the same right after a run.)
 */
#include "cli.h"

#include <string.h>

#include "flame.h"
#include "loadfile.h"

static const char HELP[] =
    "usage: moth flame FILE [-o flame.html]\n"
    "\n"
    "Draw moth's own profile file (moth profile -o FILE.moth) as an interactive flame graph:\n"
    "one self-contained HTML file (no server, no network) with a thread selector, flame and\n"
    "icicle views, tooltips, click to zoom and search.\n"
    "\n"
    "options:\n"
    "  -o, --output OUT    where to write (default: FILE with .html)\n"
    "  --title TEXT        the page's title\n"
    "  --run N             run N of a file holding several (default: all)\n"
    "  --memory            draw the memory profile (moth profile --memory: what was held at\n"
    "                      the peak, still held at the end, allocated in total, and at any\n"
    "                      moment picked on a strip of memory over time); the default for\n"
    "                      files that have one\n"
    "  -h, --help          show this help\n";

int moth_flame_write(const moth_profile *p, const char *title, const char *path)
{
    moth_flame_opts fo = {title, 0, NULL, NULL, NULL, NULL};
    moth_sb html = MOTH_SB_INIT;
    moth_error err;
    int drawn = p->memory.recorded ? moth_flame_memory_html(p, title, &html, &err)
                                   : moth_flame_html(p, &fo, &html, &err);
    if (drawn < 0) {
        moth_sb_free(&html);
        return moth_cli_error("%s", err.msg);
    }
    int rc = moth_write_output(path, html.data, html.len);
    moth_sb_free(&html);
    return rc;
}

int moth_cmd_flame(int argc, char **argv)
{
    const char *output = NULL, *input = NULL, *title = NULL, *v;
    long run = -1;
    int memory = 0;
    moth_opts o = {argc, argv, 0, NULL};
    while (o.i < argc) {
        const char *a = argv[o.i];
        if (moth_opt_is(&o, "-h", "--help")) {
            moth_cli_out(HELP, sizeof HELP - 1);
            return 0;
        } else if (moth_opt_is(&o, "-o", "--output")) {
            if (!(output = moth_opt_value(&o, "--output")))
                return 2;
        } else if (moth_opt_is(&o, NULL, "--title")) {
            if (!(title = moth_opt_value(&o, "--title")))
                return 2;
        } else if (moth_opt_is(&o, NULL, "--run")) {
            if (!(v = moth_opt_value(&o, "--run")) || (run = moth_opt_count(v, "--run")) < 0)
                return 2;
        } else if (moth_opt_is(&o, NULL, "--memory")) {
            memory = 1;
            o.i++;
        } else if (a[0] == '-' && a[1]) {
            return moth_cli_error("unknown option '%s' for 'moth flame' (try 'moth flame --help')", a);
        } else {
            if (input)
                return moth_cli_error("moth flame draws one file");
            input = a;
            o.i++;
        }
    }
    if (!input)
        return moth_cli_error("draw what? give a moth profile file (try 'moth flame --help')");
    moth_loaded in;
    moth_error err;
    if (moth_load_profile_file(input, (int)run, &in, &err) < 0)
        return moth_cli_error("%s", err.msg);
    if (!in.has_tree) {
        moth_loaded_free(&in);
        return moth_cli_error("%s is a pstats file, which keeps no calling-context tree to draw: "
                              "profile with 'moth profile -o FILE.moth' (or --flame)", input);
    }
    if (memory && !in.profile.memory.recorded) {
        moth_loaded_free(&in);
        return moth_cli_error("%s has no memory data: profile with 'moth profile --memory "
                              "-o FILE.moth'", input);
    }
    char fallback[4200];
    if (!output) {
        snprintf(fallback, sizeof fallback, "%s.html", input);
        output = fallback;
    }
    const char *command = moth_profile_get_meta(&in.profile, "command");
    int rc = moth_flame_write(&in.profile, title ? title : command ? command : input, output);
    moth_loaded_free(&in);
    return rc;
}
