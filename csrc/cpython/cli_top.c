/*
 * cli_top.c: `moth top`: a live terminal view of where a Python program's time goes now,
 * sampled from outside (csrc/remote/top.c tallies and draws; this file runs the terminal).
 *
 *   moth top [options] -p PID
 *   moth top [options] (script.py [args] | -m module [args] | -c code [args])
 *
 * At a terminal the screen is redrawn every second and keys change the view; piped, one plain
 * table is printed per refresh (like top's batch mode).
 */
#include "cli.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "proc.h"
#include "remote.h"
#include "sampler.h"
#include "top.h"

static const char HELP[] =
    "usage: moth top [options] -p PID\n"
    "       moth top [options] (script.py [args] | -m module [args] | -c code [args])\n"
    "\n"
    "Show, refreshed every second, which functions a Python program is running now, sampled\n"
    "from outside (the program is not stopped or changed). Keys: 1-4 sort by %Own, %Total,\n"
    "OwnTime, TotalTime; l switches between functions and lines; r resets the times; q quits.\n"
    "\n"
    "options:\n"
    "  -p, --pid PID       watch the running process PID\n"
    "  --rate HZ           samples per second (default 100)\n"
    "  --interval S        seconds between refreshes (default 1)\n"
    "  --duration S        stop after S seconds\n"
    "  --mode MODE         wall (default), cpu or gil, as for moth record\n"
    "  -h, --help          show this help\n";

typedef struct top_options {
    int pid;
    double rate, interval, duration;
    moth_sample_mode mode;
    int first_arg;
} top_options;

static int positive(const char *text, const char *name, double *out)
{
    char *end;
    double v = strtod(text, &end);
    if (!*text || *end || !(v > 0) || v > 1e9)
        return moth_cli_error("%s takes a positive number, not '%s'", name, text);
    *out = v;
    return 0;
}

static int parse(int argc, char **argv, top_options *to)
{
    memset(to, 0, sizeof *to);
    to->rate = 100;
    to->interval = 1;
    to->first_arg = -1;
    moth_opts o = {argc, argv, 0, NULL};
    while (o.i < argc) {
        const char *a = argv[o.i], *v;
        if (moth_opt_is(&o, "-h", "--help")) {
            moth_cli_out(HELP, sizeof HELP - 1);
            return 1;
        } else if (moth_opt_is(&o, "-p", "--pid")) {
            if (!(v = moth_opt_value(&o, "--pid")))
                return 2;
            char *end;
            long pid = strtol(v, &end, 10);
            if (!*v || *end || pid <= 0 || pid > 0x7fffffff)
                return moth_cli_error("'%s' is not a process id", v);
            to->pid = (int)pid;
        } else if (moth_opt_is(&o, NULL, "--rate")) {
            if (!(v = moth_opt_value(&o, "--rate")) || positive(v, "--rate", &to->rate))
                return 2;
        } else if (moth_opt_is(&o, NULL, "--interval")) {
            if (!(v = moth_opt_value(&o, "--interval")) || positive(v, "--interval", &to->interval))
                return 2;
        } else if (moth_opt_is(&o, NULL, "--duration")) {
            if (!(v = moth_opt_value(&o, "--duration")) || positive(v, "--duration", &to->duration))
                return 2;
        } else if (moth_opt_is(&o, NULL, "--mode")) {
            if (!(v = moth_opt_value(&o, "--mode")))
                return 2;
            if (strcmp(v, "wall") == 0)
                to->mode = MOTH_SAMPLE_WALL;
            else if (strcmp(v, "cpu") == 0)
                to->mode = MOTH_SAMPLE_CPU;
            else if (strcmp(v, "gil") == 0)
                to->mode = MOTH_SAMPLE_GIL;
            else
                return moth_cli_error("--mode takes 'wall', 'cpu' or 'gil', not '%s'", v);
        } else if (strcmp(a, "--") == 0) {
            o.i++;
            break;
        } else if (a[0] == '-' && a[1] && strcmp(a, "-m") != 0 && strcmp(a, "-c") != 0) {
            return moth_cli_error("unknown option '%s' for 'moth top' (try 'moth top --help')", a);
        } else {
            break;
        }
    }
    if (o.i < argc) {
        if (to->pid)
            return moth_cli_error("give either -p PID or a program to run, not both");
        to->first_arg = o.i;
    } else if (!to->pid) {
        return moth_cli_error("watch what? give -p PID, a script, -m module or -c code "
                              "(try 'moth top --help')");
    }
    return 0;
}

static volatile sig_atomic_t stop_requested;

static void on_stop_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

typedef struct top_session {
    moth_top tally;
    moth_top_view view;
    moth_sampler *sampler;
    int terminal;        /* stdout and stdin are a terminal: redraw in place, read keys */
    int quit;            /* q was pressed */
    double next_draw, interval;
    struct termios saved;
} top_session;

static void draw(top_session *s)
{
    moth_sb frame = MOTH_SB_INIT;
    if (s->terminal) {
        struct winsize ws;
        if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_row) {
            s->view.height = ws.ws_row;
            s->view.width = ws.ws_col;
        }
        moth_sb_puts(&frame, "\033[H\033[2J"); /* home, clear */
    }
    s->view.late = s->sampler->stats.late;
    s->view.dropped = s->sampler->reader.stats.dropped;
    moth_top_render(&s->tally, &s->view, &frame);
    if (!s->terminal)
        moth_sb_putc(&frame, '\n');
    if (!frame.failed)
        moth_cli_out(frame.data, frame.len);
    moth_sb_free(&frame);
    moth_top_next_interval(&s->tally);
}

/* Reads the keys typed since the last look; 1 to quit. */
static int read_keys(top_session *s)
{
    char keys[16];
    struct pollfd p = {STDIN_FILENO, POLLIN, 0};
    int redraw = 0;
    while (poll(&p, 1, 0) > 0 && (p.revents & POLLIN)) {
        ssize_t n = read(STDIN_FILENO, keys, sizeof keys);
        if (n <= 0)
            return 1;
        for (ssize_t i = 0; i < n; i++) {
            char k = keys[i];
            if (k == 'q' || k == 'Q' || k == 3 /* Ctrl-C in raw mode */)
                return 1;
            if (k >= '1' && k <= '4') {
                s->view.sort = (moth_top_sort)(k - '1');
                redraw = 1;
            } else if (k == 'l' || k == 'L') {
                s->view.lines = !s->view.lines;
                redraw = 1;
            } else if (k == 'r' || k == 'R') {
                moth_top_reset(&s->tally);
                redraw = 1;
            }
        }
    }
    if (redraw)
        draw(s); /* at once, with the interval so far */
    return 0;
}

static int tick(void *ctx, double elapsed)
{
    top_session *s = ctx;
    if (s->terminal && read_keys(s)) {
        s->quit = 1;
        return 1;
    }
    if (elapsed >= s->next_draw) {
        s->next_draw = elapsed + s->interval;
        draw(s);
    }
    return 0;
}

static void raw_terminal(top_session *s)
{
    struct termios raw;
    if (tcgetattr(STDIN_FILENO, &s->saved) < 0) {
        s->terminal = 0;
        return;
    }
    raw = s->saved;
    raw.c_lflag &= (tcflag_t)~(ICANON | ECHO);
    raw.c_cc[VMIN] = 0;
    raw.c_cc[VTIME] = 0;
    tcsetattr(STDIN_FILENO, TCSANOW, &raw);
    moth_cli_out("\033[?25l", 6); /* hide the cursor */
}

static void restore_terminal(top_session *s)
{
    tcsetattr(STDIN_FILENO, TCSANOW, &s->saved);
    moth_cli_out("\033[?25h", 6);
}

int moth_cmd_top(int argc, char **argv)
{
    top_options to;
    int rc = parse(argc, argv, &to);
    if (rc)
        return rc == 1 ? 0 : rc;
    struct sigaction on_stop = {.sa_handler = on_stop_signal}, old_int, old_term;
    sigemptyset(&on_stop.sa_mask);
    stop_requested = 0;
    sigaction(SIGINT, &on_stop, &old_int);
    sigaction(SIGTERM, &on_stop, &old_term);

    pid_t child = -1;
    int child_status = 0, child_ended = 0, status = 0;
    moth_remote t;
    moth_error err = {{0}};
    int opened = 0;
    if (to.first_arg >= 0) {
        if ((child = moth_cli_spawn_python(argc, argv, to.first_arg)) < 0) {
            status = 2;
            goto restore;
        }
        opened = moth_cli_open_child(&t, child, &stop_requested, &child_ended,
                                     &child_status) == 0;
    } else if (moth_remote_open_pid(&t, to.pid, &err) == 0) {
        opened = 1;
    } else {
        status = moth_cli_error("%s", err.msg);
    }
    int quit = 0;
    if (opened) {
        top_session s;
        memset(&s, 0, sizeof s);
        moth_top_init(&s.tally);
        char version[32], cmd[512], title[1024];
        moth_remote_version_string(&t, version, sizeof version);
        moth_proc_cmdline(t.pid, cmd, sizeof cmd);
        snprintf(title, sizeof title, "moth top: process %d (%s), Python %s, %g Hz",
                 (int)t.pid, cmd, version, to.rate);
        s.view.title = title;
        s.view.interval = 1.0 / to.rate;
        s.view.colour = moth_cli_colour();
        s.terminal = isatty(STDOUT_FILENO) && isatty(STDIN_FILENO);
        s.interval = to.interval;
        s.next_draw = to.interval;
        moth_sampler sampler;
        moth_sampler_init(&sampler, &t, to.mode, moth_top_sink(&s.tally));
        s.sampler = &sampler;
        if (s.terminal)
            raw_terminal(&s);
        int end = moth_sampler_run(&sampler, to.rate, to.duration, &stop_requested, tick, &s);
        if (s.terminal)
            restore_terminal(&s);
        else if (s.tally.samples_now)
            draw(&s); /* piped: the last interval too */
        if (end < 0)
            status = moth_cli_error("%s", s.tally.err.msg);
        else if (end == 1)
            moth_cli_err("moth: the program ended\n", 24);
        quit = s.quit;
        moth_sampler_free(&sampler);
        moth_top_free(&s.tally);
        moth_remote_close(&t);
    } else if (child > 0 && !child_ended) {
        status = 1;
    }
    if (child > 0) {
        if (!child_ended) {
            if (quit)
                kill(child, SIGINT); /* the program ran to be watched: q interrupts it */
            while (waitpid(child, &child_status, 0) < 0 && errno == EINTR)
                ;
        }
        if (!status)
            status = WIFEXITED(child_status) ? WEXITSTATUS(child_status)
                                             : 128 + WTERMSIG(child_status);
    }
restore:
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    return status;
}
