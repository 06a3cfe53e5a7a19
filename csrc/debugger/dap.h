/*
 * dap.h: moth's Debug Adapter Protocol server (`moth dap`, `moth.listen()`), shared by the
 * dap_*.c files.
 *
 * The server lives in the process it debugs, on moth's debugger: the command layer is
 * moth.Pdb (pdb on moth's C engine), whose thin subclass moth.dap.DapPdb hands each stop to
 * this code instead of a prompt.
 *
 * Threads. A C thread (the reader) receives the client's messages. A request is answered by
 * the Python thread stopped in the debugger, if there is one (it is "serving": parked in
 * moth_dap_serve, answering requests until one resumes it), so that evaluations run on the
 * stopped thread; otherwise by the reader itself, holding the GIL, so breakpoints can be set
 * and threads listed while the program runs. The main thread runs the program (launch), or
 * the program's own threads just go on (attach). Any thread sends; the connection numbers
 * and serialises the messages.
 *
 * Files: dap_session.c (the session, threads, dispatch, stops), dap_launch.c (launch,
 * attach, restart, terminate, disconnect, the program's console), dap_breaks.c
 * (breakpoints of every kind), dap_inspect.c (threads, stacks, scopes, variables, evaluate),
 * dap_code.c (disassembly, instruction references, goto), dap_raise.c (exceptions raised),
 * dap_listen.c (moth.listen()), dap_pid.c (attach by process id: the session runs in the
 * program, this process relays).
 */
#ifndef MOTH_DAP_H
#define MOTH_DAP_H

#include "pyver.h"

#include <pthread.h>
#include <stdint.h>

#include "dap_conn.h"
#include "json.h"
#include "runner.h"
#include "strbuf.h"

/* A request waiting for the serving thread. */
typedef struct moth_dap_request {
    struct moth_dap_request *next;
    moth_json_doc *doc;
} moth_dap_request;

typedef enum { MOTH_DAP_BP_LINE, MOTH_DAP_BP_FUNCTION, MOTH_DAP_BP_DATA } moth_dap_bp_kind;

/* A breakpoint the client set, and what of it pdb does not do itself. */
typedef struct moth_dap_bp {
    int64_t id;             /* the client's id for it */
    moth_dap_bp_kind kind;
    int number;             /* bdb's breakpoint number, or moth's watch number; 0: not set */
    char *where;            /* line: the canonical file; function: the name; data: dataId */
    int line;
    char *condition;
    char hit_op[3];         /* hitCondition's comparison ("" none, "==", ">=", "%", ...) */
    int64_t hit_n;
    int64_t hits;           /* times bdb said it matched (its condition true) */
    long first_lasti;       /* function: the instruction of its first stop, -1 before */
    char *log;              /* logMessage, or NULL */
    char *message;          /* why it is not verified, or NULL */
} moth_dap_bp;

typedef enum { MOTH_DAP_NONE, MOTH_DAP_LAUNCH, MOTH_DAP_ATTACH } moth_dap_mode;

typedef struct moth_dap {
    moth_dap_conn *conn;
    pthread_t reader;
    int reader_running;
    unsigned long reader_ident;
    pthread_mutex_t lock;       /* guards the fields below it up to `over` */
    pthread_cond_t cond;
    moth_dap_request *queue, *queue_tail;
    unsigned long serving;      /* the thread parked at a stop (ident), 0 none */
    int closed;                 /* the connection is gone */
    int over;                   /* the session ended: disconnect answered, or the client left */
    int started;                /* launch: the program may start (configurationDone) */
    /* the client */
    int lines_at1, columns_at1, client_runs_terminals;
    int initialized;
    moth_dap_mode mode;
    int configured;
    /* launch (dap_launch.c) */
    moth_target target;
    int prepared;
    int stop_on_entry, just_my_code, entry_pending;
    int terminating;            /* terminate or disconnect asked the program to end */
    int restart;                /* restart asked: the process replaces itself */
    PyObject *launch_args;      /* the launch request's arguments, as JSON text (restart) */
    char *console;              /* internalConsole, integratedTerminal, externalTerminal */
    int output_fds[2];          /* the read ends of the program's stdout/stderr pipes */
    pthread_t output_thread;
    int output_running;
    int exit_code;
    int stderr_fd;              /* moth's own stderr, kept from before the program's console */
    int terminal_listener;      /* the Unix socket the terminal helper connects to, or -1 */
    char terminal_path[128];
    int terminal_fd;            /* the helper's connection: open while its terminal is used */
    int terminal_refused;       /* the client said no to runInTerminal */
    pthread_t terminal_thread;
    int terminal_running;
    int program_running;
    unsigned long main_ident;   /* the thread running the program */
    int listening;              /* a moth.listen() session: attach, not launch */
    int by_pid;                 /* a session moth dap started in a program by its process id */
    int end_when_answered;      /* by_pid: terminate asked: SIGTERM once the answer is out */
    struct moth_dap_relay *relay; /* moth dap attached by process id: the program's session,
                                     which the client's messages go to (dap_pid.c) */
    char *stdlib_prefixes[8];   /* justMyCode: where library code lives */
    int nprefixes;
    /* the debugger */
    PyObject *dbg;              /* the moth.dap.DapPdb */
    PyObject *messages;         /* list of str: what pdb said since the program last resumed */
    /* a stop (the serving thread's, under the GIL) */
    PyObject *refs;             /* list: what frame ids and variable references point at */
    const char *reason;         /* the reason of the next stop */
    int64_t hit_ids[8];
    int nhits;
    PyObject *stop_exception;   /* an exception stop's exception */
    int stop_uncaught;
    PyObject *stop_frame;       /* where the stopped thread stands */
    unsigned long stop_thread;
    int resumed;                /* the request just answered resumes the program */
    /* threads */
    PyObject *thread_ids;       /* dict: thread ident -> the client's thread id */
    PyObject *pausing;          /* dict: thread ident -> its frame, to stop at its next line */
    /* breakpoints (dap_breaks.c) */
    moth_dap_bp *bps;
    size_t nbps, cap_bps;
    int64_t next_bp_id;
    int break_raised, break_uncaught;
    PyObject *watch_frames;     /* dict: token -> frame, for data breakpoints' ids */
    int64_t next_watch_token;
    /* code (dap_code.c) */
    PyObject *codes;            /* list of code objects: a code's handle is its index + 1 */
    PyObject *code_handles;     /* dict: code -> handle */
    PyObject *disassembled;     /* dict: handle -> list of instructions */
    int users;                  /* moth_dap_use holders (under the GIL) */
    int retired;
} moth_dap;

/* A request being answered: its response's body is written into `w` (an object already
 * open), an error into `message`; events to send after the response go to `after`. */
typedef struct moth_dap_ctx {
    moth_dap *d;
    const moth_json *req, *args;
    const char *command;
    int64_t seq;
    moth_sb body;
    moth_jw w;
    char message[600];
    moth_sb after;              /* whole messages, each ending with '\n' */
    int serving;                /* answered by the stopped thread */
} moth_dap_ctx;

/* A request handler: 0 success, -1 failure with ctx->message set (dap_fail). */
typedef int (*moth_dap_handler)(moth_dap_ctx *ctx);

/* dap_session.c */
moth_dap *moth_dap_current(void);
/* The current session, held (GIL held) so that it outlives the call even if the session
 * ends meanwhile (code that runs Python may let another thread end it); NULL when none. */
moth_dap *moth_dap_use(void);
void moth_dap_done(moth_dap *d);
/* The owner is done with d: no longer current; freed once no one uses it. */
void moth_dap_retire(moth_dap *d);
/* A session on conn (which it will own), not yet reading; NULL with err. */
moth_dap *moth_dap_new(moth_dap_conn *conn, moth_error *err);
/* Starts the thread that reads requests; 0 or -1 with err. */
int moth_dap_start_reader(moth_dap *d, moth_error *err);
/* Closes the connection and waits for the reader to end (GIL held; released meanwhile). */
void moth_dap_join_reader(moth_dap *d);
void moth_dap_free(moth_dap *d);
/* The request loop (the reader thread's body; a moth.listen() session runs it on the thread
 * that accepted the connection). */
void *moth_dap_reader_main(void *d);
/* A session in a program that runs already (moth.listen(), attach by process id), on the
 * calling thread (no GIL held): its requests until it ends; then the debugger takes itself out
 * of the program and the session is retired. */
void moth_dap_run_attached(moth_dap *d);
/* The hooks moth.dap.DapPdb calls, and moth.listen, as moth._moth's functions. */
extern PyMethodDef moth_dap_hooks[];
extern PyMethodDef moth_dap_listen_functions[];
/* moth.listen() sessions: configurationDone came (wait_for_client returns). */
void moth_dap_listener_configured(void);
int moth_dap_fail(moth_dap_ctx *ctx, const char *fmt, ...) MOTH_PRINTF(2, 3);
/* A Python exception as the failure: "prefix: Type: text", the exception cleared. */
int moth_dap_fail_exception(moth_dap_ctx *ctx, const char *prefix);
/* An event: begin writes {"seq":0,"type":"event","event":NAME,"body":{ and leaves the body
 * open for members; moth_dap_send_event closes it and sends (or, with ctx, queues it to go
 * after ctx's response). */
void moth_dap_event_begin(moth_sb *sb, moth_jw *w, const char *event);
void moth_dap_send_event(moth_dap *d, moth_dap_ctx *ctx, moth_sb *sb, moth_jw *w);
void moth_dap_output(moth_dap *d, const char *category, const char *text, size_t len);
/* Drops the stop's references (the program resumes). */
void moth_dap_forget_stop(moth_dap *d);
/* A new reference number for obj (kind: what it is), or 0 (exception cleared). */
int64_t moth_dap_ref(moth_dap *d, const char *kind, PyObject *obj, PyObject *extra);
/* The reference's (kind, obj, extra) tuple (borrowed), or NULL. */
PyObject *moth_dap_deref(moth_dap *d, int64_t ref, const char *kind);
/* The client's id for a thread, made on first sight. */
int64_t moth_dap_thread_id(moth_dap *d, unsigned long ident);
/* The ident of a client's thread id, 0 when unknown. */
unsigned long moth_dap_thread_ident(moth_dap *d, int64_t id);
/* A line number from the client's numbering to 1-based and back. */
int64_t moth_dap_line_in(moth_dap *d, int64_t line);
int64_t moth_dap_line_out(moth_dap *d, int64_t line);
/* Calls dbg.name(*args) with pdb's messages captured; NULL with the exception set. */
PyObject *moth_dap_call_dbg(moth_dap *d, const char *name, const char *fmt, ...);
/* The text pdb printed since the last call (messages), joined; a new str. */
PyObject *moth_dap_take_messages(moth_dap *d);
/* Whether the reader (or the serving thread) must stop taking requests: the session over. */
void moth_dap_end(moth_dap *d);

/* dap_launch.c */
int moth_dap_req_launch(moth_dap_ctx *ctx);
int moth_dap_req_attach(moth_dap_ctx *ctx);
int moth_dap_req_configuration_done(moth_dap_ctx *ctx);
int moth_dap_req_restart(moth_dap_ctx *ctx);
int moth_dap_req_terminate(moth_dap_ctx *ctx);
int moth_dap_req_disconnect(moth_dap_ctx *ctx);
/* The program's console is done with: its output all sent, the terminal helper let go. */
void moth_dap_close_console(moth_dap *d);
/* After the response to restart: replaces the process (returns only if that failed). */
void moth_dap_restart_now(moth_dap *d);
/* A restarted process's session: the state moth_dap_restart_now wrote (JSON text). */
int moth_dap_resume(moth_dap *d, const moth_json *state, moth_error *err);
/* The program's half of attach by process id: the session, initialized and attached from the
 * state the adapter sent (its client's initialize flags and attach arguments). */
int moth_dap_adopt(moth_dap *d, const moth_json *state, moth_error *err);
/* Runs the launched program once configured; returns when the session is over. */
int moth_dap_run_launched(moth_dap *d);
/* Whether a file is library code for justMyCode (the standard library, site-packages, moth). */
int moth_dap_is_library(moth_dap *d, PyObject *filename);
/* The client left (or disconnected): the program is ended (launch) or let go (attach). */
void moth_dap_client_gone(moth_dap *d);

/* dap_pid.c: attach by process id */
/* The adapter's half: attaches to the program (as `moth debug -p` does) and starts a session
 * in it; the client's later messages go to that session (moth_dap_relay_forward). */
int moth_dap_attach_pid(moth_dap_ctx *ctx, int64_t pid);
/* A message of the client's for the program's session (body as received): 1 when it went
 * there, 0 when there is no such session (any more): it is answered here. */
int moth_dap_relay_forward(moth_dap *d, const moth_json *msg, const char *body, size_t len);
/* After the answer to attach is out: the program's messages start going to the client. */
void moth_dap_relay_start(moth_dap *d);
/* The session ends: the program's session is let go (it detaches), the relay ended. */
void moth_dap_relay_free(moth_dap *d);
/* The refusal of a message that is not a request moth can read. */
void moth_dap_refuse(moth_dap *d, int64_t seq, const char *command, const char *why);

/* dap_breaks.c */
int moth_dap_req_set_breakpoints(moth_dap_ctx *ctx);
int moth_dap_req_set_function_breakpoints(moth_dap_ctx *ctx);
int moth_dap_req_set_exception_breakpoints(moth_dap_ctx *ctx);
int moth_dap_req_data_breakpoint_info(moth_dap_ctx *ctx);
int moth_dap_req_set_data_breakpoints(moth_dap_ctx *ctx);
/* bdb matched breakpoint `number` at frame: whether to stop (hit condition, log message). */
int moth_dap_breakpoint_hit(moth_dap *d, PyObject *frame, int number);
/* The stop is at a watch that changed: the reason and the breakpoints' ids. */
void moth_dap_note_watch_stop(moth_dap *d, PyObject *messages);
/* Function breakpoints not found before: looked for again (a module may be loaded now). */
void moth_dap_resolve_pending(moth_dap *d);
void moth_dap_free_breakpoints(moth_dap *d);
/* The breakpoints, as a restarted process sets them again (a "breakpoints" member). */
void moth_dap_write_breakpoint_state(moth_dap *d, moth_jw *w);
int moth_dap_restore_breakpoints(moth_dap *d, const moth_json *state);
/* Writes the exception breakpoint filters of the capabilities. */
void moth_dap_write_exception_filters(moth_jw *w);

/* dap_inspect.c */
int moth_dap_req_threads(moth_dap_ctx *ctx);
int moth_dap_req_stack_trace(moth_dap_ctx *ctx);
int moth_dap_req_scopes(moth_dap_ctx *ctx);
int moth_dap_req_variables(moth_dap_ctx *ctx);
int moth_dap_req_set_variable(moth_dap_ctx *ctx);
int moth_dap_req_evaluate(moth_dap_ctx *ctx);
int moth_dap_req_exception_info(moth_dap_ctx *ctx);
int moth_dap_req_source(moth_dap_ctx *ctx);
/* Whether frame runs the debugger's own code (bdb, pdb, moth), where nothing stops and which
 * no stack shows. */
int moth_dap_is_debugger_frame(PyObject *frame);
/* The frames of the stopped thread, innermost first (a new list of (frame, line) pairs). */
PyObject *moth_dap_stack_frames(moth_dap *d);
/* Writes a source object for a code's file. */
void moth_dap_write_source(moth_dap *d, moth_jw *w, const char *key, PyObject *filename);
/* The evaluation of text in frame (NULL: __main__), as the program would evaluate it;
 * statements are executed (result None). NULL with the exception set. */
PyObject *moth_dap_evaluate(PyObject *frame, const char *text, int allow_statements);

/* dap_code.c */
int moth_dap_req_disassemble(moth_dap_ctx *ctx);
int moth_dap_req_goto_targets(moth_dap_ctx *ctx);
int moth_dap_req_goto(moth_dap_ctx *ctx);
/* The instruction pointer reference of a frame ("0x..."), into buf. */
void moth_dap_instruction_ref(moth_dap *d, PyObject *frame, char *buf, size_t size);

/* dap_raise.c */
/* Turns the catching of raised exceptions on or off (the "raised" filter). */
int moth_dap_watch_raises(moth_dap *d, int on);
/* An exception event pdb saw while stepping (Python's trace function): stop if wanted. */
int moth_dap_raised_while_stepping(moth_dap *d, PyObject *frame, PyObject *exc_info);
/* The stop at a raised or uncaught exception: sends nothing itself, sets the stop's reason. */
int moth_dap_stop_at_exception(moth_dap *d, PyObject *frame, PyObject *exc, int uncaught);

#endif
