/*
 * cli_export.c: `moth export FILE --format F -o OUT`, profiles for the tools users have:
 * speedscope, flamegraph.pl / inferno, KCachegrind, Perfetto, Graphviz, pstats readers.
 */
#include "cli.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "export.h"
#include "loadfile.h"
#include "memreport.h"

static const char HELP[] =
    "usage: moth export FILE --format FORMAT [-o OUT]\n"
    "\n"
    "Write a profile (moth's own file, or a pstats file) in another tool's format:\n"
    "  pstats      pstats, snakeviz, gprof2dot\n"
    "  speedscope  https://www.speedscope.app (one profile per thread)\n"
    "  collapsed   folded stacks for flamegraph.pl and inferno (microseconds)\n"
    "  callgrind   KCachegrind / QCachegrind\n"
    "  chrome      trace events for Perfetto and chrome://tracing\n"
    "  dot         a Graphviz call graph (dot -Tsvg)\n"
    "speedscope, collapsed and chrome are drawn from the calling-context tree, which only\n"
    "moth's own file keeps (moth profile -o FILE.moth).\n"
    "\n"
    "options:\n"
    "  -f, --format FORMAT  one of the formats above\n"
    "  -o, --output OUT     where to write (default: standard output)\n"
    "  --run N              run N of a moth file holding several (default: all)\n"
    "  --memory MEASURE     a memory profile's bytes as the weight instead of time: peak\n"
    "                       (held at the peak), leaks (still held at the end) or allocated\n"
    "                       (speedscope and collapsed)\n"
    "  -h, --help           show this help\n";

int moth_write_output(const char *path, const char *data, size_t len)
{
    if (!path || strcmp(path, "-") == 0)
        return moth_cli_out(data, len) < 0 ? 1 : 0;
    FILE *f = fopen(path, "wb");
    if (!f)
        return moth_cli_error("cannot write %s: %s", path, strerror(errno));
    size_t n = fwrite(data, 1, len, f);
    if (fclose(f) != 0 || n != len)
        return moth_cli_error("cannot write %s", path);
    return 0;
}

int moth_cmd_export(int argc, char **argv)
{
    const char *format = NULL, *output = NULL, *input = NULL, *v, *memory = NULL;
    long run = -1;
    moth_opts o = {argc, argv, 0, NULL};
    while (o.i < argc) {
        const char *a = argv[o.i];
        if (moth_opt_is(&o, "-h", "--help")) {
            moth_cli_out(HELP, sizeof HELP - 1);
            return 0;
        } else if (moth_opt_is(&o, "-f", "--format")) {
            if (!(format = moth_opt_value(&o, "--format")))
                return 2;
        } else if (moth_opt_is(&o, "-o", "--output")) {
            if (!(output = moth_opt_value(&o, "--output")))
                return 2;
        } else if (moth_opt_is(&o, NULL, "--run")) {
            if (!(v = moth_opt_value(&o, "--run")) || (run = moth_opt_count(v, "--run")) < 0)
                return 2;
        } else if (moth_opt_is(&o, NULL, "--memory")) {
            if (!(memory = moth_opt_value(&o, "--memory")))
                return 2;
        } else if (a[0] == '-' && a[1]) {
            return moth_cli_error("unknown option '%s' for 'moth export' (try 'moth export --help')", a);
        } else {
            if (input)
                return moth_cli_error("moth export takes one file");
            input = a;
            o.i++;
        }
    }
    if (!input)
        return moth_cli_error("export what? give a profile file (try 'moth export --help')");
    if (!format)
        return moth_cli_error("which format? --format %s", moth_export_formats());
    moth_loaded in;
    moth_error err;
    moth_mem_measure measure = MOTH_MEM_PEAK;
    if (memory && (moth_mem_measure_parse(memory, &measure, &err) < 0))
        return moth_cli_error("%s", err.msg);
    if (memory && strcmp(format, "speedscope") != 0 && strcmp(format, "collapsed") != 0)
        return moth_cli_error("--memory exports speedscope or collapsed, not %s", format);
    if (moth_load_profile_file(input, (int)run, &in, &err) < 0)
        return moth_cli_error("%s", err.msg);
    if (memory) {
        moth_profile bytes;
        if (!in.has_tree || !in.profile.memory.recorded) {
            moth_loaded_free(&in);
            return moth_cli_error("%s has no memory data: profile with 'moth profile --memory "
                                  "-o FILE.moth'", input);
        }
        if (moth_memory_weighted_profile(&in.profile, measure, &bytes, &err) < 0) {
            moth_loaded_free(&in);
            return moth_cli_error("%s", err.msg);
        }
        moth_profile_free(&in.profile);
        in.profile = bytes;
    }
    moth_sb out = MOTH_SB_INIT;
    int rc = moth_export(&in, format, &out, &err);
    moth_loaded_free(&in);
    if (rc < 0) {
        moth_sb_free(&out);
        return moth_cli_error("%s", err.msg);
    }
    rc = moth_write_output(output, out.data ? out.data : "", out.len);
    moth_sb_free(&out);
    return rc;
}
