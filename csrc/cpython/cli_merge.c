/*
 * cli_merge.c: `moth merge -o all.moth a.moth b.moth ...`, the runs of several moth files in
 * one (each MPI rank or process written to a file of its own, then read together).
 */
#include "cli.h"

#include <stdlib.h>
#include <string.h>

#include "mothfile.h"

static const char HELP[] =
    "usage: moth merge -o OUT.moth FILE.moth...\n"
    "\n"
    "Write every run of the moth files given, in order, as the runs of one new moth file:\n"
    "per-rank files of an MPI job, or runs of separate processes, read together afterwards\n"
    "(moth stats, moth stats --by-rank, moth flame). The inputs are left as they are.\n"
    "\n"
    "options:\n"
    "  -o, --output OUT    the file to write (required; replaced if it exists)\n"
    "  -h, --help          show this help\n";

int moth_cmd_merge(int argc, char **argv)
{
    const char *output = NULL;
    const char **inputs = NULL;
    size_t n = 0;
    moth_opts o = {argc, argv, 0, NULL};
    moth_error err;
    int rc = 0;
    if (!(inputs = moth_calloc((size_t)argc + 1, sizeof *inputs, &err)))
        return moth_cli_error("%s", err.msg);
    while (o.i < argc && rc == 0) {
        const char *a = argv[o.i];
        if (moth_opt_is(&o, "-h", "--help")) {
            moth_cli_out(HELP, sizeof HELP - 1);
            free(inputs);
            return 0;
        } else if (moth_opt_is(&o, "-o", "--output")) {
            if (!(output = moth_opt_value(&o, "--output")))
                rc = 2;
        } else if (strcmp(a, "--") == 0) {
            for (o.i++; o.i < argc; o.i++)
                inputs[n++] = argv[o.i];
        } else if (a[0] == '-' && a[1]) {
            rc = moth_cli_error("unknown option '%s' for 'moth merge' (try 'moth merge --help')", a);
        } else {
            inputs[n++] = a;
            o.i++;
        }
    }
    if (rc == 0 && !output)
        rc = moth_cli_error("merge into what? give -o OUT.moth (try 'moth merge --help')");
    if (rc == 0 && n == 0)
        rc = moth_cli_error("merge what? give the moth files to read (try 'moth merge --help')");
    for (size_t i = 0; rc == 0 && i < n; i++) {
        if (strcmp(inputs[i], output) == 0)
            rc = moth_cli_error("%s is both an input and the output: write to another file",
                                output);
        else if (!moth_mothfile_sniff(inputs[i]))
            rc = moth_cli_error("%s is not a moth file (moth merge reads moth's own files)",
                                inputs[i]);
    }
    int runs = 0;
    if (rc == 0 && moth_mothfile_merge(inputs, n, output, &runs, &err) < 0)
        rc = moth_cli_error("%s", err.msg);
    free(inputs);
    if (rc == 0) {
        char text[4200];
        int len = snprintf(text, sizeof text, "moth: %d run%s of %zu file%s written to %s\n",
                           runs, runs == 1 ? "" : "s", n, n == 1 ? "" : "s", output);
        moth_cli_err(text, len < 0 ? 0 : (size_t)len >= sizeof text ? sizeof text - 1 : (size_t)len);
    }
    return rc;
}
