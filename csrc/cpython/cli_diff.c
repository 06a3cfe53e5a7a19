/*
 * cli_diff.c: `moth diff BEFORE AFTER`: what got slower and what got faster, function by
 * function.
 *
 * Works across moth and pstats files. With --fail-above PCT the exit status is 1 when the total
 * time grew by more than PCT percent, so that CI can guard performance.
 */
#include "cli.h"

#include <stdlib.h>
#include <string.h>

#include "diff.h"
#include "loadfile.h"

static const char HELP[] =
    "usage: moth diff [options] BEFORE AFTER\n"
    "\n"
    "Compare two profiles (moth's own files or pstats files) function by function: calls, own\n"
    "time and total time before and after, and a summary. The functions that got slower come\n"
    "first, the largest regression first, then those that got faster, the largest improvement\n"
    "first; functions whose times did not change are left out.\n"
    "\n"
    "options:\n"
    "  --limit N           show the N largest changes each way (default 20; 0 shows all)\n"
    "  --all               also list the functions whose times did not change\n"
    "  --strip-dirs        match functions by file name without directories (profiles made\n"
    "                      in different places)\n"
    "  --fail-above PCT    exit with status 1 when the total time grew by more than PCT percent\n"
    "  -h, --help          show this help\n";

int moth_cmd_diff(int argc, char **argv)
{
    long limit = 20;
    int strip = 0, unchanged = 0;
    double fail_above = -1;
    moth_opts o = {argc, argv, 0, NULL};
    const char *files[2];
    int nfiles = 0;
    while (o.i < argc) {
        const char *a = argv[o.i], *v;
        if (moth_opt_is(&o, "-h", "--help")) {
            moth_cli_out(HELP, sizeof HELP - 1);
            return 0;
        } else if (moth_opt_is(&o, NULL, "--limit")) {
            if (!(v = moth_opt_value(&o, "--limit")) || (limit = moth_opt_count(v, "--limit")) < 0)
                return 2;
        } else if (moth_opt_is(&o, NULL, "--fail-above")) {
            if (!(v = moth_opt_value(&o, "--fail-above")))
                return 2;
            char *end;
            fail_above = strtod(v, &end);
            if (!*v || *end || fail_above < 0)
                return moth_cli_error("--fail-above takes a percentage, not '%s'", v);
        } else if (moth_opt_is(&o, NULL, "--all")) {
            unchanged = 1;
            o.i++;
        } else if (moth_opt_is(&o, NULL, "--strip-dirs")) {
            strip = 1;
            o.i++;
        } else if (a[0] == '-' && a[1]) {
            return moth_cli_error("unknown option '%s' for 'moth diff' (try 'moth diff --help')", a);
        } else {
            if (nfiles == 2)
                return moth_cli_error("moth diff compares two files, not more");
            files[nfiles++] = a;
            o.i++;
        }
    }
    if (nfiles != 2)
        return moth_cli_error("moth diff needs two files: BEFORE AFTER (try 'moth diff --help')");
    moth_loaded side[2];
    moth_error err;
    for (int i = 0; i < 2; i++) {
        if (moth_load_profile_file(files[i], -1, &side[i], &err) < 0 ||
            (strip && moth_pstats_strip_dirs(&side[i].view, &err) < 0)) {
            if (i == 1) /* the first file loaded fine: let it go */
                moth_loaded_free(&side[0]);
            return moth_cli_error("%s", err.msg);
        }
    }
    moth_diff d;
    moth_sb text = MOTH_SB_INIT;
    int rc = moth_diff_build(&d, &side[0].view, &side[1].view, 0.0005, &err);
    if (rc == 0)
        rc = moth_diff_report(&d, files[0], files[1], (size_t)limit, unchanged, &text, &err);
    int status = 0;
    if (rc < 0) {
        status = moth_cli_error("%s", err.msg);
    } else {
        moth_cli_out(text.data, text.len);
        double growth = moth_diff_growth(&d);
        if (fail_above >= 0 && growth > fail_above) {
            moth_cli_error("total time grew by %.1f%%, more than the %g%% allowed", growth,
                           fail_above);
            status = 1;
        }
    }
    moth_sb_free(&text);
    if (rc == 0)
        moth_diff_free(&d);
    moth_loaded_free(&side[0]);
    moth_loaded_free(&side[1]);
    return status;
}
