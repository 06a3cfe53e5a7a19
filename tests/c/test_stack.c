/* test_stack.c: the stack reader on made-up targets of each layout, with a thread that moves
 * while its stack is read: between the pieces of one batched read, the test changes the
 * target's memory as a running thread would (returns, calls, a frame rewritten), and checks
 * that what is read is either the stack the thread had or nothing (read again, or dropped and
 * counted), never a mix. */
#include "check.h"
#include "fake_target.h"
#include "stack.h"
#include "threads.h"

#define CHUNK_BYTES 16384
#define FRAME_STRIDE 256

/* A hook run after a given piece of a batched read: the thread moving meanwhile. */
static void (*hook)(void);
static size_t hook_after;   /* the piece after which it runs (counted over the whole test) */
static size_t pieces_read;

static size_t moving_readv(void *ctx, moth_read_piece *pieces, size_t count)
{
    size_t done = 0;
    for (; done < count; done++) {
        if (heap_read(ctx, pieces[done].addr, pieces[done].buf, pieces[done].len) < 0)
            break;
        if (hook && pieces_read++ == hook_after) {
            void (*run)(void) = hook;
            hook = NULL; /* once */
            run();
        }
    }
    return done;
}

static void move_after(size_t piece, void (*what)(void))
{
    pieces_read = 0;
    hook_after = piece;
    hook = what;
}

/* A code object named `name` whose 8 code units are all on line `line`. */
static uint64_t mk_code(const char *name, int line)
{
    const moth_py_layout *L = T.L;
    uint64_t code = new_object(T.known.code_type, L->code.code_adaptive + 16);
    static const char table[] = {(char)(0x80 | 10 << 3 | 7), 0, 0}; /* 8 units, one line */
    put64(code + L->code.filename, mk_text("prog.py"));
    put64(code + L->code.name, mk_text(name));
    put64(code + L->code.qualname, mk_text(name));
    put64(code + L->code.linetable, mk_bytes(table, sizeof table));
    put32(code + L->code.firstlineno, (uint32_t)line);
    put64(code + L->code.size, 8);
    return code;
}

typedef struct scene {
    uint64_t tstate, cframe, chunk;
    uint64_t frames[4];   /* frame i at depth i (0: outermost) */
    uint64_t codes[6];    /* a b c x y z */
} scene;

static scene S;

static void set_top(int depth) /* frames 0..depth-1 live */
{
    put64(S.tstate + T.L->tstate.datastack_top, S.frames[0] + (uint64_t)depth * FRAME_STRIDE);
}

static void set_current(uint64_t frame)
{
    if (T.L->tstate.current_frame != MOTH_NO_FIELD)
        put64(S.tstate + T.L->tstate.current_frame, frame);
    else
        put64(S.cframe + T.L->cframe.current_frame, frame);
}

/* Frame i runs code c (instruction at unit 2), called by frame i-1. */
static void put_frame(int i, uint64_t code)
{
    const moth_py_layout *L = T.L;
    uint64_t f = S.frames[i];
    put64(f + L->frame.code, code);
    put64(f + L->frame.previous, i ? S.frames[i - 1] : 0);
    put64(f + L->frame.instr, code + L->code.code_adaptive + 4);
    put8(f + L->frame.owner, 0); /* owned by the thread */
    if (L->frame.is_entry != MOTH_NO_FIELD)
        put8(f + L->frame.is_entry, i == 0);
}

/* One thread whose stack is a > b > c (depth 3). */
static void scene_open(const moth_py_layout *layout)
{
    target_open(layout);
    T.mem.readv = moving_readv;
    T.known.code_type = new_type("code");
    T.interp = alloc(4096);
    memset(&S, 0, sizeof S);
    const char *names[] = {"a", "b", "c", "x", "y", "z"};
    for (int i = 0; i < 6; i++)
        S.codes[i] = mk_code(names[i], 10 * (i + 1));
    S.tstate = alloc(MOTH_TSTATE_READ_MAX);
    S.cframe = alloc(64);
    S.chunk = alloc(CHUNK_BYTES);
    const moth_py_layout *L = T.L;
    /* The GIL's words (free): in _PyRuntime on 3.11, in a struct of their own on 3.12+. */
    if (L->runtime.gil_locked != MOTH_NO_FIELD)
        T.runtime = alloc(L->runtime.gil_last_holder + 8);
    else
        put64(T.interp + L->interp.gil, alloc(L->gil.last_holder + 8));
    put64(T.interp + L->interp.threads_head, S.tstate);
    put64(S.tstate + L->tstate.interp, T.interp);
    put64(S.tstate + L->tstate.native_thread_id, 4242);
    put64(S.tstate + L->tstate.datastack_chunk, S.chunk);
    if (L->tstate.current_frame == MOTH_NO_FIELD)
        put64(S.tstate + L->tstate.cframe, S.cframe);
    for (int i = 0; i < 4; i++)
        S.frames[i] = S.chunk + 64 + (uint64_t)i * FRAME_STRIDE;
    for (int i = 0; i < 3; i++)
        put_frame(i, S.codes[i]);
    set_top(3);
    set_current(S.frames[2]);
}

static void scene_close(moth_stack_reader *r, moth_rthreads *l, moth_rstack *st)
{
    moth_stack_reader_free(r);
    moth_rthreads_free(l);
    moth_rstack_free(st);
    moth_code_cache_free(&T.codes);
}

/* The stack read, innermost first, as "c b a". */
static const char *names_of(const moth_rstack *st)
{
    static char out[256];
    out[0] = '\0';
    for (size_t i = 0; i < st->count; i++) {
        strcat(out, i ? " " : "");
        strcat(out, T.codes.items[st->frames[i].code].name);
    }
    return out;
}

/* The thread returns from c and b and calls y: a > y. */
static void return_twice_and_call(void)
{
    put_frame(1, S.codes[4]);
    set_top(2);
    set_current(S.frames[1]);
}

/* The thread calls z from c: a > b > c > z. */
static void call_deeper(void)
{
    put_frame(3, S.codes[5]);
    set_top(4);
    set_current(S.frames[3]);
}

/* Frame b is replaced by x's frame (the thread returned to a and called x) between the copies;
 * its top and current frame are the same again by the end of the read. */
static void rewrite_middle_frame(void)
{
    put_frame(1, S.codes[3]);
}

/* The thread returned to a (depth 1), leaving b's and c's frames behind above the top, where
 * the current frame still points: a stack the reader must not believe. */
static void leave_dead_frames(void)
{
    set_top(1);
}

static void stack_on(const moth_py_layout *layout)
{
    moth_stack_reader r;
    moth_rthreads l = MOTH_RTHREADS_INIT;
    moth_rstack st = MOTH_RSTACK_INIT;
    memset(&r, 0, sizeof r);

    /* Still: the stack as it is, with its lines, in one attempt. */
    scene_open(layout);
    CHECK(moth_remote_threads(&T, &l, NULL) == 0);
    CHECK_EQ_U(l.count, 1);
    CHECK_EQ_U(l.items[0].native_id, 4242);
    CHECK(moth_remote_stack(&T, &r, &l.items[0], &st) == 0);
    CHECK_STR(names_of(&st), "c b a");
    CHECK_EQ_U(st.frames[0].line, 30);
    CHECK_EQ_U(st.frames[2].line, 10);
    CHECK_EQ_U(r.stats.retries, 0);

    /* The list read again (the sampler's next round) takes the batched path and agrees. */
    CHECK(moth_remote_threads(&T, &l, NULL) == 0);
    CHECK_EQ_U(l.count, 1);

    /* It moves right after its current frame was first read (the piece after the _PyCFrame's
     * address on 3.11/3.12): read again, the new stack. */
    move_after(T.L->tstate.current_frame == MOTH_NO_FIELD ? 1 : 0, return_twice_and_call);
    CHECK(moth_remote_stack(&T, &r, &l.items[0], &st) == 0);
    CHECK_STR(names_of(&st), "y a");
    CHECK(r.stats.retries >= 1);
    scene_close(&r, &l, &st);

    /* It calls deeper right after its current frame was first read: the stack it had when
     * the read began, in one attempt (its frames are the same in both copies). */
    scene_open(layout);
    memset(&r, 0, sizeof r);
    CHECK(moth_remote_threads(&T, &l, NULL) == 0);
    move_after(T.L->tstate.current_frame == MOTH_NO_FIELD ? 1 : 0, call_deeper);
    CHECK(moth_remote_stack(&T, &r, &l.items[0], &st) == 0);
    CHECK_STR(names_of(&st), "c b a");
    CHECK_EQ_U(r.stats.retries, 0);
    CHECK(moth_remote_stack(&T, &r, &l.items[0], &st) == 0); /* and the next round: z */
    CHECK_STR(names_of(&st), "z c b a");
    scene_close(&r, &l, &st);

    /* A frame rewritten between the two copies of the chunk: seen as torn, read again. */
    scene_open(layout);
    memset(&r, 0, sizeof r);
    CHECK(moth_remote_threads(&T, &l, NULL) == 0);
    size_t words = T.L->tstate.current_frame == MOTH_NO_FIELD ? 4 : 3;
    move_after(words, rewrite_middle_frame); /* after the first copy */
    CHECK(moth_remote_stack(&T, &r, &l.items[0], &st) == 0);
    CHECK_STR(names_of(&st), "c x a");
    CHECK_EQ_U(r.stats.torn, 1);
    CHECK_EQ_U(r.stats.dropped, 0);
    scene_close(&r, &l, &st);

    /* Frames above the chunk's top are never a stack: dropped and counted. */
    scene_open(layout);
    memset(&r, 0, sizeof r);
    CHECK(moth_remote_threads(&T, &l, NULL) == 0);
    leave_dead_frames();
    CHECK(moth_remote_stack(&T, &r, &l.items[0], &st) < 0);
    CHECK_EQ_U(st.count, 0);
    CHECK_EQ_U(r.stats.dropped, 1);
    CHECK(r.stats.torn >= 1);
    scene_close(&r, &l, &st);

    /* A thread state that is no longer one (freed: its interpreter pointer gone) at the head of
     * the list: the list keeps failing and says so. */
    scene_open(layout);
    memset(&r, 0, sizeof r);
    put64(S.tstate + T.L->tstate.interp, 0);
    moth_error err = {{0}};
    CHECK(moth_remote_threads(&T, &l, &err) < 0);
    CHECK_STR(err.msg, "the thread list kept changing while it was read");
    scene_close(&r, &l, &st);

    /* A new thread at the head since the last round: the batched read sees the change and
     * walks the list again. */
    scene_open(layout);
    memset(&r, 0, sizeof r);
    CHECK(moth_remote_threads(&T, &l, NULL) == 0);
    uint64_t newer = alloc(MOTH_TSTATE_READ_MAX);
    put64(newer + T.L->tstate.interp, T.interp);
    put64(newer + T.L->tstate.next, S.tstate);
    put64(newer + T.L->tstate.native_thread_id, 4343);
    put64(T.interp + T.L->interp.threads_head, newer);
    CHECK(moth_remote_threads(&T, &l, NULL) == 0);
    CHECK_EQ_U(l.count, 2);
    CHECK_EQ_U(l.items[0].native_id, 4343);
    CHECK_EQ_U(l.items[1].native_id, 4242);
    scene_close(&r, &l, &st);
}

/* One sampler round in one read: the list and the stacks of the threads it had. */
static int round_of(moth_stack_reader *r, moth_rthreads *l, moth_rstack *st, uint64_t *calls)
{
    uint64_t before = T.mem.reads;
    if (moth_remote_threads_prefetch(&T, r, l, NULL) < 0)
        return -1;
    int rc = moth_remote_stack(&T, r, &l->items[0], st);
    *calls = T.mem.reads - before;
    return rc;
}

static void prefetch_on(const moth_py_layout *layout)
{
    moth_stack_reader r;
    moth_rthreads l = MOTH_RTHREADS_INIT;
    moth_rstack st = MOTH_RSTACK_INIT;
    uint64_t calls;
    scene_open(layout);
    memset(&r, 0, sizeof r);
    for (int i = 0; i < 6; i++) /* code objects known (each new one costs reads of its own) */
        CHECK(moth_code_get(&T, S.codes[i]) != MOTH_NO_FUNC);

    /* The first round walks the list (nothing known to plan from); the next ones read the
     * list and the stack in one call. */
    CHECK(round_of(&r, &l, &st, &calls) == 0);
    CHECK_STR(names_of(&st), "c b a");
    CHECK(round_of(&r, &l, &st, &calls) == 0);
    CHECK_STR(names_of(&st), "c b a");
    CHECK_EQ_U(calls, 1);
    CHECK_EQ_U(r.stats.prefetched, 1);

    /* Between rounds it calls deeper, then returns and calls elsewhere: each round's stack is
     * the thread's, still in one call (the copy reaches past the top it had). */
    call_deeper();
    CHECK(round_of(&r, &l, &st, &calls) == 0);
    CHECK_STR(names_of(&st), "z c b a");
    CHECK_EQ_U(calls, 1);
    return_twice_and_call();
    CHECK(round_of(&r, &l, &st, &calls) == 0);
    CHECK_STR(names_of(&st), "y a");
    CHECK_EQ_U(calls, 1);
    CHECK_EQ_U(r.stats.retries, 0);

    /* A frame rewritten between the round's two copies (after the list's 4 pieces and the
     * words before the copies): torn, read again on its own. */
    put_frame(1, S.codes[1]);
    put_frame(2, S.codes[2]);
    set_top(3);
    set_current(S.frames[2]);
    CHECK(round_of(&r, &l, &st, &calls) == 0); /* (planned from "y a": still one call) */
    CHECK_STR(names_of(&st), "c b a");
    size_t words = T.L->tstate.current_frame == MOTH_NO_FIELD ? 4 : 3;
    move_after(4 + words, rewrite_middle_frame);
    CHECK(round_of(&r, &l, &st, &calls) == 0);
    CHECK_STR(names_of(&st), "c x a");
    CHECK_EQ_U(r.stats.torn, 1);
    CHECK_EQ_U(r.stats.retries, 1);
    CHECK_EQ_U(calls, 2);

    /* Its chunk unknown (none in the thread state): no copy planned, the frames read one by
     * one from the current frame as it is now. */
    put64(S.tstate + T.L->tstate.datastack_chunk, 0);
    CHECK(round_of(&r, &l, &st, &calls) == 0);
    CHECK(round_of(&r, &l, &st, &calls) == 0);
    CHECK_STR(names_of(&st), "c x a");
    CHECK_EQ_U(r.stats.dropped, 0);
    scene_close(&r, &l, &st);
}

static void test_stacks_of_every_layout(void)
{
    stack_on(&moth_layout_py311);
    stack_on(&moth_layout_py312);
    stack_on(&moth_layout_py313);
}

static void test_rounds_in_one_read(void)
{
    prefetch_on(&moth_layout_py311);
    prefetch_on(&moth_layout_py312);
    prefetch_on(&moth_layout_py313);
}

int main(void)
{
    H.bytes = calloc(1, HEAP_SIZE);
    RUN(test_stacks_of_every_layout);
    RUN(test_rounds_in_one_read);
    free(H.bytes);
    return check_summary();
}
