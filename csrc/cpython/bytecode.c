/*
 * bytecode.c: decoding bytecode for `moth advise`.
 *
 * The instructions come from co_code (the bytecode before specialisation), two bytes each:
 * opcode and argument, EXTENDED_ARG prefixes widening the argument, CACHE units between
 * instructions. What an opcode is and how its argument reads is the CPython version's
 * business (moth_opcode_kind in pyver/py3XX.h); this file walks the bytes, resolves names,
 * constants and jump targets, and drops what the analysis does not need.
 */
#include "bytecode.h"

#include <stdlib.h>
#include <string.h>

static const char *name_at(PyObject *tuple, Py_ssize_t i, PyObject *names)
{
    if (!tuple || !PyTuple_Check(tuple) || i < 0 || i >= PyTuple_GET_SIZE(tuple))
        return NULL;
    PyObject *s = PyTuple_GET_ITEM(tuple, i);
    if (!PyUnicode_Check(s) || PyList_Append(names, s) < 0) {
        PyErr_Clear();
        return NULL;
    }
    return PyUnicode_AsUTF8(s);
}

int moth_decode_code(PyCodeObject *code, moth_insn **insns, size_t *n, PyObject *names)
{
    *insns = NULL;
    *n = 0;
    PyObject *bytes = PyCode_GetCode(code);
    PyObject *varnames = PyCode_GetVarnames(code);
    if (!bytes || !varnames) {
        Py_XDECREF(bytes);
        Py_XDECREF(varnames);
        return -1;
    }
    const unsigned char *b = (const unsigned char *)PyBytes_AS_STRING(bytes);
    size_t units = (size_t)PyBytes_GET_SIZE(bytes) / 2;
    moth_insn *out = calloc(units ? units : 1, sizeof *out);
    size_t *index_of_unit = malloc((units + 1) * sizeof *index_of_unit);
    size_t *unit_of = calloc(units ? units : 1, sizeof *unit_of);
    int *back = calloc(units ? units : 1, sizeof *back);
    if (!out || !index_of_unit || !unit_of || !back) {
        free(out);
        free(index_of_unit);
        free(unit_of);
        free(back);
        Py_DECREF(bytes);
        Py_DECREF(varnames);
        PyErr_NoMemory();
        return -1;
    }
    size_t count = 0;
    int ext = 0;
    for (size_t u = 0; u < units; u++) {
        int op = b[2 * u], arg = b[2 * u + 1] | ext;
        index_of_unit[u] = count;
        int argkind, method, binop;
        int kind = moth_opcode_kind(op, arg, &argkind, &method, &binop);
        if (op == EXTENDED_ARG) {
            ext = arg << 8;
            continue;
        }
        ext = 0;
        if (kind == MOTH_I_SKIP)
            continue;
        moth_insn *in = &out[count];
        in->kind = (moth_insn_kind)kind;
        in->arg = arg;
        in->method = method;
        in->line = PyCode_Addr2Line(code, (int)(2 * u));
        unit_of[count] = u;
        switch (argkind) {
        case 1: in->name = name_at(code->co_names, arg, names); break;
        case 2: in->name = name_at(varnames, arg, names); break;
        case 4: in->name = name_at(code->co_names, arg >> 1, names); break;
        case 6: in->name = name_at(code->co_names, arg >> 1, names); break;
        case 7: /* two locals in one instruction: two instructions for the analysis */
            in->name = name_at(varnames, arg >> 4, names);
            if (count + 1 < units) {
                out[count + 1] = *in;
                out[count + 1].name = name_at(varnames, arg & 15, names);
                unit_of[++count] = u;
            }
            break;
        case 8: /* STORE_FAST_LOAD_FAST: a store, then a load */
            in->name = name_at(varnames, arg >> 4, names);
            if (count + 1 < units) {
                out[count + 1] = *in;
                out[count + 1].kind = MOTH_I_LOAD_FAST;
                out[count + 1].name = name_at(varnames, arg & 15, names);
                unit_of[++count] = u;
            }
            break;
        case 3: {
            PyObject *c = code->co_consts && arg < PyTuple_GET_SIZE(code->co_consts)
                              ? PyTuple_GET_ITEM(code->co_consts, arg) : NULL;
            in->const_kind = !c ? MOTH_CONST_OTHER
                             : c == Py_None ? MOTH_CONST_NONE
                             : PyUnicode_Check(c) ? MOTH_CONST_STR
                             : PyLong_CheckExact(c) ? MOTH_CONST_INT
                             : PyFloat_CheckExact(c) ? MOTH_CONST_FLOAT : MOTH_CONST_OTHER;
            if (in->const_kind == MOTH_CONST_INT) {
                in->const_int = PyLong_AsLong(c);
                PyErr_Clear();
            }
            break;
        }
        case 5:
            back[count] = arg;
            break;
        }
        if (binop >= 0)
            in->arg = binop == NB_ADD ? MOTH_OP_ADD : binop == NB_SUBTRACT ? MOTH_OP_SUB
                    : binop == NB_MULTIPLY ? MOTH_OP_MUL : binop == NB_TRUE_DIVIDE ? MOTH_OP_DIV
                    : binop == NB_INPLACE_ADD ? MOTH_OP_INPLACE_ADD
                    : (binop == NB_INPLACE_SUBTRACT || binop == NB_INPLACE_MULTIPLY ||
                       binop == NB_INPLACE_TRUE_DIVIDE) ? MOTH_OP_INPLACE_ARITH
                    : (binop == NB_POWER || binop == NB_FLOOR_DIVIDE || binop == NB_REMAINDER)
                        ? MOTH_OP_OTHER_ARITH : MOTH_OP_OTHER;
        count++;
    }
    index_of_unit[units] = count;
    /* Backward jumps: the target is counted in code units back from the unit after the jump
     * and its caches, i.e. from the next instruction's unit. */
    for (size_t i = 0; i < count; i++) {
        if (out[i].kind != MOTH_I_JUMP_BACK)
            continue;
        size_t next_unit = i + 1 < count ? unit_of[i + 1] : units;
        out[i].target = (size_t)back[i] <= next_unit ? index_of_unit[next_unit - (size_t)back[i]]
                                                      : i;
    }
    free(index_of_unit);
    free(unit_of);
    free(back);
    Py_DECREF(bytes);
    Py_DECREF(varnames);
    *insns = out;
    *n = count;
    return 0;
}

int moth_module_aliases(PyCodeObject *module_code, PyObject *names, const char ***aliases,
                        size_t *n)
{
    moth_insn *in;
    size_t count;
    *aliases = NULL;
    *n = 0;
    if (moth_decode_code(module_code, &in, &count, names) < 0)
        return -1;
    const char **out = calloc(count ? count : 1, sizeof *out);
    if (!out) {
        free(in);
        PyErr_NoMemory();
        return -1;
    }
    for (size_t i = 0; i < count; i++) {
        /* `from m import f` passes a fromlist (a tuple) to IMPORT_NAME; plain imports None */
        if (in[i].kind != MOTH_I_IMPORT_NAME || i == 0 || in[i - 1].kind != MOTH_I_LOAD_CONST ||
            in[i - 1].const_kind != MOTH_CONST_NONE)
            continue;
        /* import x / import x.y as z: the import, then a store of the alias (for "as",
         * through IMPORT_FROM of the submodule, which the decoder reports as OTHER) */
        for (size_t k = i + 1; k < count && k <= i + 3; k++) {
            if (in[k].kind == MOTH_I_STORE_NAME) {
                out[(*n)++] = in[k].name;
                break;
            }
            if (in[k].kind != MOTH_I_OTHER)
                break;
        }
    }
    free(in);
    *aliases = out;
    return 0;
}

/* The code object's first and last line (from co_lines()). */
int moth_code_line_span(PyCodeObject *code, uint32_t *first, uint32_t *last)
{
    *first = code->co_firstlineno > 0 ? (uint32_t)code->co_firstlineno : 1;
    *last = *first;
    PyObject *it = PyObject_CallMethod((PyObject *)code, "co_lines", NULL);
    PyObject *iter = it ? PyObject_GetIter(it) : NULL;
    Py_XDECREF(it);
    if (!iter)
        return -1;
    PyObject *item;
    while ((item = PyIter_Next(iter))) {
        PyObject *line = PyTuple_Check(item) && PyTuple_GET_SIZE(item) == 3
                             ? PyTuple_GET_ITEM(item, 2) : NULL;
        if (line && PyLong_Check(line)) {
            long v = PyLong_AsLong(line);
            if (v > 0 && (uint32_t)v < *first)
                *first = (uint32_t)v;
            if (v > 0 && (uint32_t)v > *last)
                *last = (uint32_t)v;
        }
        Py_DECREF(item);
    }
    Py_DECREF(iter);
    return PyErr_Occurred() ? -1 : 0;
}
