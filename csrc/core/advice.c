/* advice.c: finding performance pitfalls in normalised bytecode; see advice.h. */
#include "advice.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void moth_findings_free(moth_findings *f)
{
    free(f->items);
    memset(f, 0, sizeof *f);
}

typedef struct loop {
    size_t head, end;       /* instructions head..end (end: the backward jump) */
    int first, last;        /* their lines */
    int is_for;             /* the head is FOR_ITER */
} loop;

static int same(const char *a, const char *b)
{
    return a && b && strcmp(a, b) == 0;
}

static int is_module(const moth_code_view *c, const char *name)
{
    for (size_t i = 0; i < c->nmodules; i++)
        if (same(c->modules[i], name))
            return 1;
    return 0;
}

/* The innermost loop that contains instruction k, or NULL. */
static const loop *loop_of(const loop *loops, size_t n, size_t k)
{
    const loop *best = NULL;
    for (size_t i = 0; i < n; i++)
        if (k >= loops[i].head && k <= loops[i].end &&
            (!best || loops[i].end - loops[i].head < best->end - best->head))
            best = &loops[i];
    return best;
}

static int add(moth_findings *f, moth_pitfall kind, int line, const loop *l, const char *what,
               moth_error *err)
{
    for (size_t i = 0; i < f->count; i++) /* once per loop, kind and names */
        if (f->items[i].kind == kind && f->items[i].loop_first == l->first &&
            f->items[i].loop_last == l->last && strcmp(f->items[i].what, what) == 0)
            return 0;
    if (moth_grow((void **)&f->items, sizeof *f->items, &f->cap, f->count + 1, err) < 0)
        return -1;
    moth_finding *x = &f->items[f->count++];
    memset(x, 0, sizeof *x);
    x->kind = kind;
    x->line = line;
    x->loop_first = l->first;
    x->loop_last = l->last;
    snprintf(x->what, sizeof x->what, "%s", what);
    return 0;
}

/* Whether `name` is stored (STORE_FAST) between instructions a and b. */
static int stored_in(const moth_code_view *c, const char *name, size_t a, size_t b)
{
    for (size_t k = a; k <= b && k < c->ninsns; k++)
        if (c->insns[k].kind == MOTH_I_STORE_FAST && same(c->insns[k].name, name))
            return 1;
    return 0;
}

/* The instruction that last stored `name` before index `before`, or SIZE_MAX. */
static size_t last_store_before(const moth_code_view *c, const char *name, size_t before)
{
    for (size_t k = before; k-- > 0;)
        if (c->insns[k].kind == MOTH_I_STORE_FAST && same(c->insns[k].name, name))
            return k;
    return SIZE_MAX;
}

static int lookups(const moth_code_view *c, const loop *loops, size_t nloops, moth_findings *f,
                   moth_error *err)
{
    const moth_insn *in = c->insns;
    for (size_t k = 0; k < c->ninsns; k++) {
        const loop *l = loop_of(loops, nloops, k);
        if (!l)
            continue;
        char what[256];
        if (in[k].kind == MOTH_I_LOAD_GLOBAL) {
            if (k + 1 < c->ninsns && in[k + 1].kind == MOTH_I_LOAD_ATTR && is_module(c, in[k].name)) {
                snprintf(what, sizeof what, "%s.%s", in[k].name, in[k + 1].name);
                if (add(f, MOTH_PIT_MODULE_ATTR_IN_LOOP, in[k].line, l, what, err) < 0)
                    return -1;
                k++;
            } else if (!is_module(c, in[k].name)) {
                if (add(f, MOTH_PIT_GLOBAL_IN_LOOP, in[k].line, l, in[k].name, err) < 0)
                    return -1;
            }
        }
        /* a chain: a base, then two or more attribute reads in a row */
        if ((in[k].kind == MOTH_I_LOAD_FAST || in[k].kind == MOTH_I_LOAD_GLOBAL) &&
            k + 2 < c->ninsns && in[k + 1].kind == MOTH_I_LOAD_ATTR &&
            in[k + 2].kind == MOTH_I_LOAD_ATTR) {
            if (in[k].kind == MOTH_I_LOAD_FAST && stored_in(c, in[k].name, l->head, l->end))
                continue; /* the base changes as the loop goes: nothing to hoist */
            size_t n = snprintf(what, sizeof what, "%s", in[k].name ? in[k].name : "?");
            size_t m = k + 1;
            while (m < c->ninsns && in[m].kind == MOTH_I_LOAD_ATTR && n < sizeof what - 2) {
                n += snprintf(what + n, sizeof what - n, ".%s", in[m].name ? in[m].name : "?");
                m++;
            }
            if (add(f, MOTH_PIT_ATTR_CHAIN_IN_LOOP, in[k].line, l, what, err) < 0)
                return -1;
            k = m - 1;
        }
    }
    return 0;
}

/* for i in range(len(x)): ... x[i] */
static int range_len(const moth_code_view *c, const loop *l, moth_findings *f, moth_error *err)
{
    const moth_insn *in = c->insns;
    if (!l->is_for || l->head < 5 || l->head + 1 >= c->ninsns)
        return 0;
    /* before FOR_ITER: LOAD_GLOBAL range, LOAD_GLOBAL len, LOAD_FAST x, CALL 1, CALL 1, GET_ITER */
    size_t h = l->head;
    if (in[h - 1].kind != MOTH_I_GET_ITER || in[h - 2].kind != MOTH_I_CALL ||
        in[h - 3].kind != MOTH_I_CALL || in[h - 4].kind != MOTH_I_LOAD_FAST ||
        in[h - 5].kind != MOTH_I_LOAD_GLOBAL || !same(in[h - 5].name, "len") ||
        h < 6 || in[h - 6].kind != MOTH_I_LOAD_GLOBAL || !same(in[h - 6].name, "range"))
        return 0;
    const char *seq = in[h - 4].name;
    if (in[h + 1].kind != MOTH_I_STORE_FAST)
        return 0;
    const char *index = in[h + 1].name;
    for (size_t k = h + 2; k + 2 <= l->end; k++)
        if (in[k].kind == MOTH_I_LOAD_FAST && same(in[k].name, seq) &&
            in[k + 1].kind == MOTH_I_LOAD_FAST && same(in[k + 1].name, index) &&
            in[k + 2].kind == MOTH_I_SUBSCR)
            return add(f, MOTH_PIT_RANGE_LEN, in[h].line, l, seq, err);
    return 0;
}

/* i = 0; while i < n: ...; i += 1 */
static int counter_while(const moth_code_view *c, const loop *l, moth_findings *f,
                         moth_error *err)
{
    const moth_insn *in = c->insns;
    if (l->is_for)
        return 0;
    for (size_t k = l->head; k + 3 <= l->end; k++) {
        if (in[k].kind != MOTH_I_LOAD_FAST || in[k + 1].kind != MOTH_I_LOAD_CONST ||
            in[k + 1].const_kind != MOTH_CONST_INT || in[k + 1].const_int != 1 ||
            in[k + 2].kind != MOTH_I_BINARY_OP || in[k + 2].arg != MOTH_OP_INPLACE_ADD ||
            in[k + 3].kind != MOTH_I_STORE_FAST || !same(in[k + 3].name, in[k].name))
            continue;
        /* the loop's condition compares that counter */
        const char *counter = in[k].name;
        for (size_t m = l->head; m <= l->end; m++)
            if (in[m].kind == MOTH_I_COMPARE &&
                ((m >= 2 && in[m - 2].kind == MOTH_I_LOAD_FAST && same(in[m - 2].name, counter)) ||
                 (m >= 1 && in[m - 1].kind == MOTH_I_LOAD_FAST && same(in[m - 1].name, counter))))
                return add(f, MOTH_PIT_COUNTER_WHILE, in[m].line, l, counter, err);
    }
    return 0;
}

/* s = ''; for ...: s += ... */
static int string_concat(const moth_code_view *c, const loop *l, moth_findings *f,
                         moth_error *err)
{
    const moth_insn *in = c->insns;
    for (size_t k = l->head; k + 1 <= l->end; k++) {
        if (in[k].kind != MOTH_I_BINARY_OP || in[k].arg != MOTH_OP_INPLACE_ADD ||
            in[k + 1].kind != MOTH_I_STORE_FAST)
            continue;
        const char *s = in[k + 1].name;
        size_t init = last_store_before(c, s, l->head);
        if (init != SIZE_MAX && init > 0 && in[init - 1].kind == MOTH_I_LOAD_CONST &&
            in[init - 1].const_kind == MOTH_CONST_STR)
            if (add(f, MOTH_PIT_STRING_CONCAT, in[k].line, l, s, err) < 0)
                return -1;
    }
    return 0;
}

/* r = []; for x in xs: r.append(...)  (and nothing else stored) */
static int append_loop(const moth_code_view *c, const loop *l, moth_findings *f,
                       moth_error *err)
{
    const moth_insn *in = c->insns;
    if (!l->is_for)
        return 0;
    const char *list = NULL;
    int appends = 0, line = 0;
    for (size_t k = l->head; k + 1 <= l->end; k++) {
        if (in[k].kind == MOTH_I_LOAD_FAST && in[k + 1].kind == MOTH_I_LOAD_ATTR &&
            in[k + 1].method && same(in[k + 1].name, "append")) {
            if (list && !same(list, in[k].name))
                return 0;
            list = in[k].name;
            appends++;
            line = in[k].line;
        }
        if (in[k].kind == MOTH_I_STORE_SUBSCR)
            return 0;
        if (in[k].kind == MOTH_I_STORE_FAST && k != l->head + 1) /* only the loop target */
            return 0;
    }
    if (appends != 1)
        return 0;
    size_t init = last_store_before(c, list, l->head);
    if (init == SIZE_MAX || init == 0 || in[init - 1].kind != MOTH_I_BUILD_LIST ||
        in[init - 1].arg != 0)
        return 0;
    return add(f, MOTH_PIT_APPEND_LOOP, line, l, list, err);
}

/* arithmetic on list items, one element at a time */
static int numeric_loop(const moth_code_view *c, const loop *l, moth_findings *f,
                        moth_error *err)
{
    const moth_insn *in = c->insns;
    if (!l->is_for)
        return 0;
    int arith = 0, subscr = 0;
    const char *seq = NULL;
    for (size_t k = l->head; k <= l->end; k++) {
        if (in[k].kind == MOTH_I_BINARY_OP && in[k].arg != MOTH_OP_OTHER)
            arith++;
        if (in[k].kind == MOTH_I_SUBSCR || in[k].kind == MOTH_I_STORE_SUBSCR) {
            subscr++;
            if (!seq && k >= 2 && in[k - 2].kind == MOTH_I_LOAD_FAST)
                seq = in[k - 2].name;
        }
        if (in[k].kind == MOTH_I_CALL) {
            /* calls other than math functions and abs/float/int/min/max: not a plain numeric
             * loop (it does more than arithmetic) */
            size_t m = k;
            while (m > l->head && in[m].kind != MOTH_I_LOAD_GLOBAL && in[m].kind != MOTH_I_LOAD_ATTR)
                m--;
            const char *callee = in[m].name;
            int numeric = (in[m].kind == MOTH_I_LOAD_ATTR && m > 0 &&
                           in[m - 1].kind == MOTH_I_LOAD_GLOBAL && is_module(c, in[m - 1].name)) ||
                          same(callee, "abs") || same(callee, "float") || same(callee, "int") ||
                          same(callee, "min") || same(callee, "max");
            if (!numeric)
                return 0;
        }
    }
    if (arith >= 2 && subscr >= 1 && seq)
        return add(f, MOTH_PIT_NUMERIC_LOOP, in[l->head].line, l, seq, err);
    return 0;
}

int moth_advise_code(const moth_code_view *c, moth_findings *f, moth_error *err)
{
    loop *loops = NULL;
    size_t nloops = 0, cap = 0;
    for (size_t k = 0; k < c->ninsns; k++) {
        const moth_insn *j = &c->insns[k];
        if (j->kind != MOTH_I_JUMP_BACK || j->target >= k)
            continue;
        /* Several jumps back to one head are one loop (an if/else inside it can end in two
         * jumps): the loop runs to the last of them. */
        loop *l = NULL;
        for (size_t i = 0; i < nloops && !l; i++)
            if (loops[i].head == j->target)
                l = &loops[i];
        if (!l) {
            if (moth_grow((void **)&loops, sizeof *loops, &cap, nloops + 1, err) < 0) {
                free(loops);
                return -1;
            }
            l = &loops[nloops++];
        }
        l->head = j->target;
        l->end = k;
        l->is_for = c->insns[j->target].kind == MOTH_I_FOR_ITER;
        l->first = l->last = c->insns[j->target].line;
        for (size_t m = l->head; m <= l->end; m++) {
            int line = c->insns[m].line;
            if (line > 0 && (line < l->first || l->first <= 0))
                l->first = line;
            if (line > l->last)
                l->last = line;
        }
    }
    int rc = lookups(c, loops, nloops, f, err);
    for (size_t i = 0; rc == 0 && i < nloops; i++) {
        const loop *l = &loops[i];
        rc = range_len(c, l, f, err);
        if (rc == 0)
            rc = counter_while(c, l, f, err);
        if (rc == 0)
            rc = string_concat(c, l, f, err);
        if (rc == 0)
            rc = append_loop(c, l, f, err);
        if (rc == 0)
            rc = numeric_loop(c, l, f, err);
    }
    free(loops);
    return rc;
}

const char *moth_pitfall_id(moth_pitfall p)
{
    static const char *ids[] = {"global-in-loop", "module-attribute-in-loop",
                                "attribute-chain-in-loop", "range-len-loop",
                                "counter-while-loop", "string-concatenation-in-loop",
                                "append-loop", "numeric-loop"};
    return ids[p];
}

const char *moth_pitfall_title(moth_pitfall p)
{
    static const char *titles[] = {
        "global name looked up on every iteration",
        "module attribute looked up on every iteration",
        "attribute chain read again on every iteration",
        "index loop over range(len(...))",
        "counter while loop",
        "string built with += in a loop",
        "list built by append in a loop",
        "pure-Python numeric loop",
    };
    return titles[p];
}

void moth_pitfall_explain(const moth_finding *f, moth_sb *out)
{
    const char *w = f->what;
    switch (f->kind) {
    case MOTH_PIT_GLOBAL_IN_LOOP:
        moth_sb_printf(out,
            "`%s` is a global: every iteration runs LOAD_GLOBAL %s, a lookup through the\n"
            "module's and the builtins' dictionaries. Bind it to a local before the loop\n"
            "(`_%s = %s`) and the loop reads it with LOAD_FAST, an array index.", w, w, w, w);
        break;
    case MOTH_PIT_MODULE_ATTR_IN_LOOP: {
        const char *attr = strchr(w, '.');
        attr = attr ? attr + 1 : w;
        moth_sb_printf(out,
            "every iteration runs LOAD_GLOBAL then LOAD_ATTR to find %s: two dictionary\n"
            "lookups. Bind it once before the loop, `%s = %s`, and call `%s(...)`: one LOAD_FAST.",
            w, attr, w, attr);
        break;
    }
    case MOTH_PIT_ATTR_CHAIN_IN_LOOP:
        moth_sb_printf(out,
            "`%s` is read again on every iteration: one LOAD_ATTR per dot, each a dictionary\n"
            "or descriptor lookup. Read it once into a local before the loop.", w);
        break;
    case MOTH_PIT_RANGE_LEN:
        moth_sb_printf(out,
            "`for i in range(len(%s))` then `%s[i]`: each iteration pays FOR_ITER on a range and\n"
            "LOAD_FAST %s, LOAD_FAST i, BINARY_SUBSCR. Iterate the list itself, `for v in %s:`,\n"
            "and FOR_ITER hands you the item (`enumerate(%s)` if you need i as well).",
            w, w, w, w, w);
        break;
    case MOTH_PIT_COUNTER_WHILE:
        moth_sb_printf(out,
            "the counter `%s` is tested and incremented in bytecode: LOAD_FAST, COMPARE_OP and a\n"
            "jump, then LOAD_FAST, LOAD_CONST 1, BINARY_OP +=, STORE_FAST on every iteration.\n"
            "`for %s in range(...)` does the counting in C: one FOR_ITER per iteration.", w, w);
        break;
    case MOTH_PIT_STRING_CONCAT:
        moth_sb_printf(out,
            "`%s += ...` on a string: each BINARY_OP += makes a new string and copies what was\n"
            "there (quadratic as it grows). Append the pieces to a list and `''.join()` it once.",
            w);
        break;
    case MOTH_PIT_APPEND_LOOP:
        moth_sb_printf(out,
            "the loop only appends to `%s`: each iteration runs LOAD_FAST %s, LOAD_ATTR append,\n"
            "a CALL and POP_TOP. A list comprehension, `%s = [... for ... in ...]`, appends with\n"
            "one LIST_APPEND instruction and no method lookup or call.", w, w, w);
        break;
    case MOTH_PIT_NUMERIC_LOOP:
        moth_sb_printf(out,
            "arithmetic on the items of `%s`, one element at a time: BINARY_SUBSCR and BINARY_OP\n"
            "on boxed numbers for every item. With NumPy arrays the whole loop runs in C\n"
            "(e.g. `(a * b).sum()`, `np.sqrt(a)`, `a[1:] - a[:-1]`).", w);
        break;
    }
}

double moth_advice_saving(double seconds, uint64_t iterations, const moth_shape_cost *cost)
{
    if (!(cost->written_ns > cost->rewritten_ns) || !(cost->rewritten_ns >= 0) || !(seconds > 0))
        return 0;
    double per_iteration = (cost->written_ns - cost->rewritten_ns) * 1e-9;
    double saving = (double)iterations * per_iteration;
    double bound = seconds * (1.0 - cost->rewritten_ns / cost->written_ns);
    return saving < bound ? saving : bound;
}

double moth_shape_speedup(const moth_shape_cost *cost)
{
    return cost->rewritten_ns > 0 && cost->written_ns > 0 ? cost->written_ns / cost->rewritten_ns
                                                           : 1.0;
}
