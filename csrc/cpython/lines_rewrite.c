/*
 * lines_rewrite.c (3.11): line events without a trace function.
 *
 * 3.11 has no per-code line events, and a trace function takes the whole thread off the
 * specialising interpreter's fast paths while it is installed: line-profiled numeric loops ran
 * ~3.7x slower than plain. Instead, the line profiler gives each selected function a twin of
 * its code object carrying a probe where tracing would report a line:
 *
 *     LOAD_CONST <probe>; POP_JUMP_FORWARD_IF_TRUE 0
 *
 * The conditional jump asks the probe for its truth (it is not a bool), which calls the probe
 * type's nb_bool in C, and carries on at the next instruction whatever the answer. Everything
 * else in the twin runs as specialised as in the original.
 *
 * Where the probes go reproduces tracing's rule exactly (Python/ceval.c, maybe_call_line_trace):
 * an instruction reports its line when that differs from the line of the instruction executed
 * before it in the frame, or when it is reached by a jump backwards (unless it is a SEND), and
 * never for instructions without a line or before the frame's opening RESUME. A probe keeps the
 * activation's "line of the last instruction" (moth_lineprof_probe), so it is needed only where
 * control can arrive from another line: after a line change in the code, at jump targets reached
 * from other lines, at exception handlers (any line), and first in the body (a fresh frame
 * reports its first line whatever it is). A backward jump counts its target's line itself,
 * in a probe just before the jump; a conditional one becomes
 *
 *     POP_JUMP_FORWARD_IF_<not cond> over; <probe>; JUMP_BACKWARD target; over:
 *
 * The twin gets the original's positions (tracebacks, f_lineno), exception table (remapped),
 * constants plus the probes, and one more stack slot. moth_lines_twin checks the positions of
 * the twin it built against the original's and refuses it when they differ.
 */
#include "lines_rewrite.h"

#if MOTH_LINES_BY_TRACE

#include <stdlib.h>
#include <string.h>

/* ---- opcode facts, read once from the interpreter's own opcode module ---- */

enum { NOT_JUMP, FORWARD, BACKWARD };

static struct {
    int ready;
    uint8_t caches[256];
    uint8_t jump[256];     /* relative jumps: FORWARD or BACKWARD */
    uint8_t terminal[256]; /* never goes on to the next instruction */
    int inverse[256];      /* POP_JUMP_BACKWARD_IF_x -> POP_JUMP_FORWARD_IF_<not x> */
    int extended_arg, load_const, pop_jump_if_true, resume, send, jump_backward;
} ops;

static int opnum(PyObject *opmap, const char *name)
{
    PyObject *v = PyDict_GetItemString(opmap, name); /* borrowed */
    long n = v ? PyLong_AsLong(v) : -1;
    return n >= 0 && n < 256 ? (int)n : -1;
}

static int load_opcodes(void)
{
    if (ops.ready)
        return 0;
    PyObject *mod = PyImport_ImportModule("opcode");
    PyObject *opmap = mod ? PyObject_GetAttrString(mod, "opmap") : NULL;
    PyObject *opname = mod ? PyObject_GetAttrString(mod, "opname") : NULL;
    PyObject *caches = mod ? PyObject_GetAttrString(mod, "_inline_cache_entries") : NULL;
    PyObject *hasjrel = mod ? PyObject_GetAttrString(mod, "hasjrel") : NULL;
    PyObject *hasjabs = mod ? PyObject_GetAttrString(mod, "hasjabs") : NULL;
    int ok = opmap && PyDict_Check(opmap) && opname && PyList_Check(opname) && caches &&
             PyList_Check(caches) && PyList_GET_SIZE(caches) == 256 && hasjrel &&
             PyList_Check(hasjrel) && hasjabs && PyList_Check(hasjabs) &&
             PyList_GET_SIZE(hasjabs) == 0; /* 3.11 has only relative jumps */
    for (Py_ssize_t i = 0; ok && i < 256; i++)
        ops.caches[i] = (uint8_t)PyLong_AsLong(PyList_GET_ITEM(caches, i));
    for (Py_ssize_t i = 0; ok && i < PyList_GET_SIZE(hasjrel); i++) {
        long op = PyLong_AsLong(PyList_GET_ITEM(hasjrel, i));
        const char *name = op >= 0 && op < PyList_GET_SIZE(opname)
                               ? PyUnicode_AsUTF8(PyList_GET_ITEM(opname, op)) : NULL;
        if (!name || op >= 256)
            ok = 0;
        else
            ops.jump[op] = strstr(name, "BACKWARD") ? BACKWARD : FORWARD;
    }
    static const char *const inverses[][2] = {
        {"POP_JUMP_BACKWARD_IF_TRUE", "POP_JUMP_FORWARD_IF_FALSE"},
        {"POP_JUMP_BACKWARD_IF_FALSE", "POP_JUMP_FORWARD_IF_TRUE"},
        {"POP_JUMP_BACKWARD_IF_NONE", "POP_JUMP_FORWARD_IF_NOT_NONE"},
        {"POP_JUMP_BACKWARD_IF_NOT_NONE", "POP_JUMP_FORWARD_IF_NONE"},
    };
    for (int i = 0; i < 256; i++)
        ops.inverse[i] = -1;
    for (size_t i = 0; ok && i < sizeof inverses / sizeof *inverses; i++) {
        int from = opnum(opmap, inverses[i][0]), to = opnum(opmap, inverses[i][1]);
        if (from < 0 || to < 0)
            ok = 0;
        else
            ops.inverse[from] = to;
    }
    static const char *const terminals[] = {"RETURN_VALUE", "RERAISE", "RAISE_VARARGS",
                                            "JUMP_FORWARD", "JUMP_BACKWARD",
                                            "JUMP_BACKWARD_NO_INTERRUPT"};
    for (size_t i = 0; ok && i < sizeof terminals / sizeof *terminals; i++) {
        int op = opnum(opmap, terminals[i]);
        if (op < 0)
            ok = 0;
        else
            ops.terminal[op] = 1;
    }
    if (ok) {
        ops.extended_arg = opnum(opmap, "EXTENDED_ARG");
        ops.load_const = opnum(opmap, "LOAD_CONST");
        ops.pop_jump_if_true = opnum(opmap, "POP_JUMP_FORWARD_IF_TRUE");
        ops.resume = opnum(opmap, "RESUME");
        ops.send = opnum(opmap, "SEND");
        ops.jump_backward = opnum(opmap, "JUMP_BACKWARD");
        ok = ops.extended_arg >= 0 && ops.load_const >= 0 && ops.pop_jump_if_true >= 0 &&
             ops.resume >= 0 && ops.send >= 0 && ops.jump_backward >= 0 &&
             ops.caches[ops.pop_jump_if_true] == 0 && ops.caches[ops.load_const] == 0;
    }
    Py_XDECREF(hasjabs);
    Py_XDECREF(hasjrel);
    Py_XDECREF(caches);
    Py_XDECREF(opname);
    Py_XDECREF(opmap);
    Py_XDECREF(mod);
    if (!ok) {
        if (!PyErr_Occurred())
            PyErr_SetString(PyExc_RuntimeError, "moth: unexpected opcode table");
        return -1;
    }
    ops.ready = 1;
    return 0;
}

/* ---- probe objects ---- */

typedef struct {
    PyObject_HEAD
    moth_probe_ctx *ctx;
    int32_t line; /* -1: entering code without a line */
    int forced;   /* a backward jump's: counts even when the line is the same */
} moth_probe;

static int probe_bool(PyObject *self)
{
    moth_probe *probe = (moth_probe *)self;
    probe->ctx->fire(probe->ctx, probe->line, probe->forced);
    return 0;
}

static void probe_dealloc(PyObject *self)
{
    Py_XDECREF(((moth_probe *)self)->ctx);
    Py_TYPE(self)->tp_free(self);
}

static PyObject *probe_repr(PyObject *self)
{
    return PyUnicode_FromFormat("<moth line probe %d>", ((moth_probe *)self)->line);
}

static PyNumberMethods probe_number = {.nb_bool = probe_bool};

static PyTypeObject probe_type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "moth._moth.LineProbe",
    .tp_basicsize = sizeof(moth_probe),
    .tp_dealloc = probe_dealloc,
    .tp_repr = probe_repr,
    .tp_as_number = &probe_number,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "A line probe in a twin's bytecode (3.11: moth --lines, breakpoints).",
};

static void ctx_dealloc(PyObject *self)
{
    moth_probe_ctx *ctx = (moth_probe_ctx *)self;
    Py_XDECREF(ctx->origin);
    free(ctx->unit_lines);
    free(ctx->unit_origin);
    Py_TYPE(self)->tp_free(self);
}

static PyTypeObject ctx_type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "moth._moth.LineProbes",
    .tp_basicsize = sizeof(moth_probe_ctx),
    .tp_dealloc = ctx_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
};

static int types_ready(void)
{
    return PyType_Ready(&probe_type) < 0 || PyType_Ready(&ctx_type) < 0 ? -1 : 0;
}

moth_probe_ctx *moth_twin_ctx(PyCodeObject *code)
{
    PyObject *consts = code->co_consts;
    Py_ssize_t n = consts ? PyTuple_GET_SIZE(consts) : 0;
    if (n == 0 || !Py_IS_TYPE(PyTuple_GET_ITEM(consts, n - 1), &probe_type))
        return NULL;
    return ((moth_probe *)PyTuple_GET_ITEM(consts, n - 1))->ctx;
}

PyCodeObject *moth_twin_original(PyCodeObject *code, int *unit, int *at_probe)
{
    moth_probe_ctx *ctx = moth_twin_ctx(code);
    if (!ctx || !ctx->unit_origin || *unit < 0 || (uint32_t)*unit >= ctx->nunits)
        return NULL;
    int32_t origin = ctx->unit_origin[*unit];
    *at_probe = origin < 0;
    *unit = origin < 0 ? -origin - 1 : origin;
    return (PyCodeObject *)ctx->origin;
}

/* ---- the original's instructions ---- */

typedef struct {
    uint32_t start;   /* first code unit, EXTENDED_ARG prefixes included */
    uint32_t op_unit; /* the opcode's own unit */
    int op;
    uint32_t arg;
    int32_t line;     /* -1: none */
    int32_t target;   /* jumps: the instruction jumped to; else -1 */
    uint8_t probe;    /* a probe of this instruction's line goes before it */
    uint8_t forced;   /* a backward jump that counts its target's line */
    uint8_t handler;  /* an exception handler starts here */
    uint8_t ext;      /* the twin's EXTENDED_ARGs before the opcode */
    uint8_t ext_back; /* ... and before the JUMP_BACKWARD of an expanded conditional jump */
    uint32_t probe_const, forced_const;
    uint32_t at;      /* twin unit where the probe, else the instruction, starts */
    uint32_t op_at;   /* twin unit of the first unit after the probe */
} insn;

typedef struct {
    uint32_t start, end, target, depth_lasti; /* code units (instructions: start_insn ...) */
} handler_range;

typedef struct {
    PyCodeObject *code;
    const uint8_t *bytes;
    uint32_t nunits;
    insn *insns;
    uint32_t ninsns;
    int32_t *insn_at_unit; /* instruction starting at each unit, or -1 */
    int32_t (*pos)[4];     /* original positions per unit: line, end line, column, end column */
    handler_range *handlers;
    size_t nhandlers;
    /* probes: (line, forced) -> constant index after the original constants */
    int32_t *probe_lines;
    uint8_t *probe_forced;
    uint32_t nprobes;
    uint32_t first_probe_const;
    uint32_t resume;       /* the opening RESUME instruction */
} rewrite;

static int prefixes(uint32_t v)
{
    return v < (1u << 8) ? 0 : v < (1u << 16) ? 1 : v < (1u << 24) ? 2 : 3;
}

static int fail(const char *why)
{
    PyErr_Format(PyExc_RuntimeError, "moth: cannot rewrite this code: %s", why);
    return -1;
}

static int decode(rewrite *r)
{
    r->insns = calloc(r->nunits + 1, sizeof *r->insns);
    r->insn_at_unit = malloc((r->nunits + 1) * sizeof *r->insn_at_unit);
    if (!r->insns || !r->insn_at_unit) {
        PyErr_NoMemory();
        return -1;
    }
    for (uint32_t u = 0; u <= r->nunits; u++)
        r->insn_at_unit[u] = -1;
    uint32_t u = 0;
    while (u < r->nunits) {
        insn *in = &r->insns[r->ninsns];
        in->start = u;
        uint32_t arg = 0;
        while (u < r->nunits && r->bytes[2 * u] == ops.extended_arg)
            arg = (arg | r->bytes[2 * u++ + 1]) << 8;
        if (u >= r->nunits)
            return fail("EXTENDED_ARG at the end");
        in->op_unit = u;
        in->op = r->bytes[2 * u];
        in->arg = arg | r->bytes[2 * u + 1];
        in->target = -1;
        r->insn_at_unit[in->start] = (int32_t)r->ninsns++;
        u += 1 + ops.caches[in->op];
    }
    if (u != r->nunits)
        return fail("caches past the end");
    r->insn_at_unit[r->nunits] = (int32_t)r->ninsns; /* one past the last */
    for (uint32_t k = 0; k < r->ninsns; k++) {
        insn *in = &r->insns[k];
        in->line = r->pos[in->op_unit][0];
        if (ops.jump[in->op] == NOT_JUMP)
            continue;
        uint32_t next = in->op_unit + 1 + ops.caches[in->op];
        int64_t to = ops.jump[in->op] == FORWARD ? (int64_t)next + in->arg
                                                   : (int64_t)next - in->arg;
        if (to < 0 || to >= r->nunits || r->insn_at_unit[to] < 0)
            return fail("a jump into the middle of an instruction");
        in->target = r->insn_at_unit[to];
    }
    return 0;
}

/* ---- exception table: 6-bit groups, most significant first; bit 6 continues, bit 7 marks an
 * entry's start (Objects/exception_handling_notes.txt) ---- */

static int read_be(const uint8_t *p, size_t n, size_t *i, uint32_t *out)
{
    if (*i >= n)
        return -1;
    uint32_t v = p[*i] & 63;
    while (p[(*i)++] & 64) {
        if (*i >= n)
            return -1;
        v = (v << 6) | (p[*i] & 63);
    }
    *out = v;
    return 0;
}

static size_t write_be(uint8_t *p, uint32_t v, int msb)
{
    size_t n = 0;
    for (int shift = 24; shift > 0; shift -= 6)
        if (v >= (1u << shift)) {
            p[n++] = (uint8_t)(((v >> shift) & 63) | 64 | msb);
            msb = 0;
        }
    p[n++] = (uint8_t)((v & 63) | msb);
    return n;
}

static int read_handlers(rewrite *r)
{
    PyObject *table = r->code->co_exceptiontable;
    const uint8_t *p = (const uint8_t *)PyBytes_AS_STRING(table);
    size_t n = (size_t)PyBytes_GET_SIZE(table), i = 0;
    while (i < n) {
        handler_range h;
        uint32_t size;
        if (read_be(p, n, &i, &h.start) || read_be(p, n, &i, &size) ||
            read_be(p, n, &i, &h.target) || read_be(p, n, &i, &h.depth_lasti))
            return fail("a truncated exception table");
        h.end = h.start + size;
        if (h.start >= r->nunits || h.end > r->nunits || h.end <= h.start ||
            r->insn_at_unit[h.start] < 0 || r->insn_at_unit[h.end] < 0 ||
            h.target >= r->nunits || r->insn_at_unit[h.target] < 0)
            return fail("an exception range inside an instruction");
        handler_range *grown = realloc(r->handlers, (r->nhandlers + 1) * sizeof *grown);
        if (!grown) {
            PyErr_NoMemory();
            return -1;
        }
        r->handlers = grown;
        r->handlers[r->nhandlers++] = h;
        r->insns[r->insn_at_unit[h.target]].handler = 1;
    }
    return 0;
}

/* ---- where probes go ---- */

static uint32_t probe_const(rewrite *r, int32_t line, int forced)
{
    for (uint32_t i = 0; i < r->nprobes; i++)
        if (r->probe_lines[i] == line && r->probe_forced[i] == forced)
            return r->first_probe_const + i;
    r->probe_lines[r->nprobes] = line;
    r->probe_forced[r->nprobes] = (uint8_t)forced;
    return r->first_probe_const + r->nprobes++;
}

static int place_probes(rewrite *r)
{
    uint32_t resume = 0;
    while (resume < r->ninsns && r->insns[resume].op != ops.resume)
        resume++;
    if (resume + 1 >= r->ninsns)
        return fail("no RESUME");
    r->resume = resume;
    /* at most one line probe per instruction and one forced probe per backward jump */
    r->probe_lines = malloc(2 * r->ninsns * sizeof *r->probe_lines);
    r->probe_forced = malloc(2 * r->ninsns);
    if (!r->probe_lines || !r->probe_forced) {
        PyErr_NoMemory();
        return -1;
    }
    insn *in = r->insns;
    for (uint32_t k = 0; k < r->ninsns; k++) {
        insn *t = in[k].target >= 0 ? &in[in[k].target] : NULL;
        if (t && ops.jump[in[k].op] == BACKWARD && t->op != ops.send && t->line >= 0)
            in[k].forced = 1;
        else if (t && t->line != in[k].line)
            t->probe = 1;
        if (k + 1 < r->ninsns && !ops.terminal[in[k].op] && in[k + 1].line != in[k].line)
            in[k + 1].probe = 1;
        if (in[k].handler)
            in[k].probe = 1;
    }
    in[resume + 1].probe = 1; /* a fresh frame reports its first line, whatever it is */
    for (uint32_t k = 0; k <= resume; k++)
        in[k].probe = 0; /* nothing before RESUME reports a line */
    for (uint32_t k = 0; k < r->ninsns; k++) {
        if (in[k].probe)
            in[k].probe_const = probe_const(r, in[k].line, 0);
        if (in[k].forced)
            in[k].forced_const = probe_const(r, in[in[k].target].line, 1);
    }
    return 0;
}

/* ---- the twin's layout ---- */

static uint32_t probe_units(uint32_t constant)
{
    return (uint32_t)prefixes(constant) + 2;
}

static int conditional_back(const insn *in)
{
    return in->forced && ops.inverse[in->op] >= 0;
}

/* What an expanded conditional jump puts after its inverted jump: probe, JUMP_BACKWARD. */
static uint32_t back_jump_units(const insn *in)
{
    return probe_units(in->forced_const) + in->ext_back + 1u + ops.caches[ops.jump_backward];
}

/* Twin units of instruction k without its probe, with the current EXTENDED_ARG counts. */
static uint32_t body_units(const insn *in)
{
    uint32_t own = in->ext + 1u + ops.caches[in->op];
    if (conditional_back(in))
        return own + back_jump_units(in);
    return own + (in->forced ? probe_units(in->forced_const) : 0);
}

static void lay_out(rewrite *r)
{
    uint32_t at = 0;
    for (uint32_t k = 0; k < r->ninsns; k++) {
        insn *in = &r->insns[k];
        in->at = at;
        at += in->probe ? probe_units(in->probe_const) : 0;
        in->op_at = at;
        at += body_units(in);
    }
    r->insns[r->ninsns].at = at;
}

/* The argument instruction k takes in the twin (and, for an expanded conditional jump, the
 * backward jump's in *back). */
static uint32_t twin_arg(const rewrite *r, const insn *in, uint32_t *back)
{
    if (in->target < 0)
        return in->arg;
    uint32_t to = r->insns[in->target].at;
    uint32_t after = in->op_at + in->ext + 1u + ops.caches[in->op];
    if (conditional_back(in)) {
        uint32_t skip = back_jump_units(in);
        *back = after + skip - to;
        return skip;
    }
    if (in->forced)
        after += probe_units(in->forced_const);
    return ops.jump[in->op] == FORWARD ? to - after : after - to;
}

static void settle_layout(rewrite *r)
{
    for (uint32_t k = 0; k < r->ninsns; k++)
        r->insns[k].ext = r->insns[k].target < 0 ? (uint8_t)prefixes(r->insns[k].arg) : 0;
    for (int changed = 1; changed;) {
        changed = 0;
        lay_out(r);
        for (uint32_t k = 0; k < r->ninsns; k++) {
            insn *in = &r->insns[k];
            uint32_t back = 0, arg = twin_arg(r, in, &back);
            if (prefixes(arg) > in->ext) {
                in->ext = (uint8_t)prefixes(arg);
                changed = 1;
            }
            if (prefixes(back) > in->ext_back) {
                in->ext_back = (uint8_t)prefixes(back);
                changed = 1;
            }
        }
    }
}

/* ---- emitting ---- */

typedef struct {
    uint8_t *bytes;
    uint32_t *source; /* per twin unit: the original unit whose position it takes */
    uint8_t *probe;   /* per twin unit: a probe's */
    uint32_t n;
} emitter;

static void emit(emitter *e, int op, uint32_t arg, int ext, uint32_t source)
{
    for (int shift = 8 * ext; shift > 0; shift -= 8) {
        e->bytes[2 * e->n] = (uint8_t)ops.extended_arg;
        e->bytes[2 * e->n + 1] = (uint8_t)(arg >> shift);
        e->source[e->n++] = source;
    }
    e->bytes[2 * e->n] = (uint8_t)op;
    e->bytes[2 * e->n + 1] = (uint8_t)arg;
    e->source[e->n++] = source;
    for (int c = 0; c < ops.caches[op]; c++) {
        e->bytes[2 * e->n] = e->bytes[2 * e->n + 1] = 0;
        e->source[e->n++] = source;
    }
}

static void emit_probe(emitter *e, uint32_t constant, uint32_t source)
{
    uint32_t from = e->n;
    emit(e, ops.load_const, constant, prefixes(constant), source);
    emit(e, ops.pop_jump_if_true, 0, 0, source);
    memset(e->probe + from, 1, e->n - from);
}

static void emit_code(const rewrite *r, emitter *e)
{
    for (uint32_t k = 0; k < r->ninsns; k++) {
        const insn *in = &r->insns[k];
        uint32_t source = in->op_unit, back = 0, arg = twin_arg(r, in, &back);
        if (in->probe)
            emit_probe(e, in->probe_const, source);
        if (conditional_back(in)) {
            emit(e, ops.inverse[in->op], arg, in->ext, source);
            emit_probe(e, in->forced_const, source);
            emit(e, ops.jump_backward, back, in->ext_back, source);
            continue;
        }
        if (in->forced)
            emit_probe(e, in->forced_const, source);
        emit(e, in->op, arg, in->ext, source);
    }
}

/* ---- positions: the location table (Objects/locations.md), long form for every run ---- */

static size_t write_le(uint8_t *p, uint32_t v)
{
    size_t n = 0;
    while (v >= 64) {
        p[n++] = (uint8_t)(64 | (v & 63));
        v >>= 6;
    }
    p[n++] = (uint8_t)v;
    return n;
}

static size_t write_signed(uint8_t *p, int32_t v)
{
    return write_le(p, v < 0 ? ((uint32_t)-v << 1) | 1 : (uint32_t)v << 1);
}

static PyObject *location_table(const rewrite *r, const emitter *e)
{
    /* at most 1 + 4 * 6 bytes per entry (32-bit values), one entry per unit at worst */
    uint8_t *out = malloc((size_t)e->n * 25 + 1);
    if (!out)
        return PyErr_NoMemory();
    size_t n = 0;
    int32_t line = r->code->co_firstlineno;
    for (uint32_t u = 0; u < e->n;) {
        const int32_t *p = r->pos[e->source[u]];
        uint32_t run = 1;
        while (run < 8 && u + run < e->n &&
               memcmp(r->pos[e->source[u + run]], p, sizeof r->pos[0]) == 0)
            run++;
        if (p[0] < 0) {
            out[n++] = (uint8_t)(128 | (15 << 3) | (run - 1)); /* no location */
        } else {
            out[n++] = (uint8_t)(128 | (14 << 3) | (run - 1));
            n += write_signed(out + n, p[0] - line);
            n += write_le(out + n, (uint32_t)((p[1] < p[0] ? p[0] : p[1]) - p[0]));
            n += write_le(out + n, (uint32_t)(p[2] + 1));
            n += write_le(out + n, (uint32_t)(p[3] + 1));
            line = p[0];
        }
        u += run;
    }
    PyObject *table = PyBytes_FromStringAndSize((const char *)out, (Py_ssize_t)n);
    free(out);
    return table;
}

static PyObject *exception_table(const rewrite *r)
{
    uint8_t *out = malloc(r->nhandlers * 4 * 5 + 1);
    if (!out)
        return PyErr_NoMemory();
    size_t n = 0;
    for (size_t i = 0; i < r->nhandlers; i++) {
        const handler_range *h = &r->handlers[i];
        uint32_t start = r->insns[r->insn_at_unit[h->start]].at;
        uint32_t end = r->insns[r->insn_at_unit[h->end]].at;
        n += write_be(out + n, start, 128);
        n += write_be(out + n, end - start, 0);
        n += write_be(out + n, r->insns[r->insn_at_unit[h->target]].at, 0);
        n += write_be(out + n, h->depth_lasti, 0);
    }
    PyObject *table = PyBytes_FromStringAndSize((const char *)out, (Py_ssize_t)n);
    free(out);
    return table;
}

/* Each unit's position from co_positions(): a missing value is -1. */
static int32_t (*read_positions(PyObject *code, uint32_t nunits))[4]
{
    PyObject *it = PyObject_CallMethod(code, "co_positions", NULL);
    PyObject *all = it ? PySequence_List(it) : NULL;
    Py_XDECREF(it);
    if (!all)
        return NULL;
    int32_t (*pos)[4] = NULL;
    if ((uint32_t)PyList_GET_SIZE(all) != nunits) {
        fail("co_positions() does not cover the code");
    } else if (!(pos = malloc((nunits + 1) * sizeof *pos))) {
        PyErr_NoMemory();
    } else {
        for (uint32_t u = 0; u < nunits; u++) {
            PyObject *t = PyList_GET_ITEM(all, u);
            for (int i = 0; i < 4; i++) {
                PyObject *v = PyTuple_Check(t) && PyTuple_GET_SIZE(t) == 4
                                  ? PyTuple_GET_ITEM(t, i) : Py_None;
                pos[u][i] = v == Py_None ? -1 : (int32_t)PyLong_AsLong(v);
            }
        }
    }
    Py_DECREF(all);
    return pos;
}

/* ---- the twin ---- */

static PyObject *new_consts(rewrite *r, moth_probe_ctx *ctx, moth_twin_nested nested, void *arg)
{
    PyObject *old = r->code->co_consts;
    Py_ssize_t n = PyTuple_GET_SIZE(old);
    PyObject *consts = PyTuple_New(n + r->nprobes);
    if (!consts)
        return NULL;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *c = PyTuple_GET_ITEM(old, i);
        PyObject *now = PyCode_Check(c) && nested ? nested(arg, (PyCodeObject *)c)
                                                  : Py_NewRef(c);
        if (!now) {
            Py_DECREF(consts);
            return NULL;
        }
        PyTuple_SET_ITEM(consts, i, now);
    }
    for (uint32_t i = 0; i < r->nprobes; i++) {
        moth_probe *probe = PyObject_New(moth_probe, &probe_type);
        if (!probe) {
            Py_DECREF(consts);
            return NULL;
        }
        probe->ctx = (moth_probe_ctx *)Py_NewRef((PyObject *)ctx);
        probe->line = r->probe_lines[i];
        probe->forced = r->probe_forced[i];
        PyTuple_SET_ITEM(consts, n + i, (PyObject *)probe);
    }
    return consts;
}

/* The twin's positions must be the original's, instruction for instruction; and its lines
 * per unit go to the context (a resumed frame's line). */
static int check_twin(const rewrite *r, PyObject *twin, uint32_t nunits, moth_probe_ctx *ctx)
{
    int32_t (*pos)[4] = read_positions(twin, nunits);
    if (!pos)
        return -1;
    int rc = 0;
    for (uint32_t k = 0; k < r->ninsns && rc == 0; k++)
        if (memcmp(pos[r->insns[k].op_at], r->pos[r->insns[k].op_unit], sizeof *pos) != 0)
            rc = fail("the twin's positions differ");
    ctx->unit_lines = malloc(nunits * sizeof *ctx->unit_lines);
    if (rc == 0 && !ctx->unit_lines)
        rc = (PyErr_NoMemory(), -1);
    for (uint32_t u = 0; rc == 0 && u < nunits; u++)
        ctx->unit_lines[u] = pos[u][0];
    ctx->nunits = nunits;
    free(pos);
    return rc;
}

static PyObject *make_twin(rewrite *r, moth_twin_nested nested, void *arg, moth_probe_fn fire)
{
    PyObject *code = (PyObject *)r->code;
    PyObject *co_code = PyObject_GetAttrString(code, "co_code");
    if (!co_code)
        return NULL;
    r->bytes = (const uint8_t *)PyBytes_AS_STRING(co_code);
    r->nunits = (uint32_t)(PyBytes_GET_SIZE(co_code) / 2);
    r->first_probe_const = (uint32_t)PyTuple_GET_SIZE(r->code->co_consts);
    PyObject *twin = NULL, *consts = NULL, *lines = NULL, *handlers = NULL, *kw = NULL,
             *bytes = NULL, *replace = NULL, *empty = NULL;
    moth_probe_ctx *ctx = NULL;
    emitter e = {0};
    if (!(r->pos = read_positions(code, r->nunits)) || decode(r) < 0 || read_handlers(r) < 0 ||
        place_probes(r) < 0)
        goto done;
    settle_layout(r);
    uint32_t total = r->insns[r->ninsns].at;
    e.bytes = malloc(2 * (size_t)total);
    e.source = malloc(total * sizeof *e.source);
    e.probe = calloc(total, 1);
    if (!e.bytes || !e.source || !e.probe) {
        PyErr_NoMemory();
        goto done;
    }
    emit_code(r, &e);
    if (e.n != total) {
        fail("layout and emitted code disagree");
        goto done;
    }
    if (!(ctx = PyObject_New(moth_probe_ctx, &ctx_type)))
        goto done;
    ctx->fire = fire;
    ctx->origin = Py_NewRef(code);
    ctx->table = 0;
    ctx->unit_lines = NULL;
    ctx->unit_origin = malloc(e.n * sizeof *ctx->unit_origin);
    ctx->nunits = 0;
    if (!ctx->unit_origin) {
        PyErr_NoMemory();
        goto done;
    }
    for (uint32_t u = 0; u < e.n; u++) /* (an instruction's caches map to its opcode's unit) */
        ctx->unit_origin[u] = e.probe[u] ? -(int32_t)e.source[u] - 1 : (int32_t)e.source[u];
    ctx->body_start = r->insns[r->resume + 1].at;
    ctx->first_end = r->insns[r->resume + 1].op_at;
    if (!(consts = new_consts(r, ctx, nested, arg)) || !(lines = location_table(r, &e)) ||
        !(handlers = exception_table(r)) ||
        !(bytes = PyBytes_FromStringAndSize((const char *)e.bytes, 2 * (Py_ssize_t)e.n)) ||
        !(kw = Py_BuildValue("{sOsOsOsOsi}", "co_code", bytes, "co_consts", consts,
                             "co_linetable", lines, "co_exceptiontable", handlers,
                             "co_stacksize", r->code->co_stacksize + 1)) ||
        !(replace = PyObject_GetAttrString(code, "replace")) || !(empty = PyTuple_New(0)))
        goto done;
    twin = PyObject_Call(replace, empty, kw);
    if (twin && check_twin(r, twin, e.n, ctx) < 0)
        Py_CLEAR(twin);
done:
    free(e.bytes);
    free(e.source);
    free(e.probe);
    Py_XDECREF((PyObject *)ctx);
    Py_XDECREF(empty);
    Py_XDECREF(replace);
    Py_XDECREF(kw);
    Py_XDECREF(bytes);
    Py_XDECREF(handlers);
    Py_XDECREF(lines);
    Py_XDECREF(consts);
    Py_DECREF(co_code);
    return twin;
}

PyObject *moth_lines_twin(PyCodeObject *code, moth_twin_nested nested, void *arg,
                          moth_probe_fn fire)
{
    if (load_opcodes() < 0 || types_ready() < 0)
        return NULL;
    rewrite r = {.code = code};
    PyObject *twin = make_twin(&r, nested, arg, fire);
    free(r.insns);
    free(r.insn_at_unit);
    free(r.pos);
    free(r.handlers);
    free(r.probe_lines);
    free(r.probe_forced);
    return twin;
}

#endif
