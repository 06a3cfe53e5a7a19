/*
 * pyver.h: the one place that knows which CPython this is.
 *
 * Every file of the CPython boundary includes this instead of Python.h. It pulls in the
 * interpreter's internal headers (moth intercepts frame evaluation, which only they describe)
 * and one file per CPython version that defines the small inline API the rest of moth uses:
 *
 *   moth_iframe                      the interpreter's frame struct (_PyInterpreterFrame)
 *   moth_iframe_code(f)              its code object, or NULL for frames that run no code
 *   moth_eval_default(ts, f, thr)    CPython's own frame evaluator
 *   moth_c_stack_credit(ts) / moth_c_stack_debit(ts)
 *                                    undo / redo the C-recursion units CPython charges per
 *                                    evaluator entry (see the version files)
 *   moth_force_recursion_error(ts, &saved) / moth_restore_recursion(ts, saved)
 *                                    make the next evaluator entry raise RecursionError
 *
 * Supporting a new CPython version is one new file in pyver/ and one line below.
 */
#ifndef MOTH_PYVER_H
#define MOTH_PYVER_H

#ifndef Py_BUILD_CORE_MODULE
#  define Py_BUILD_CORE_MODULE 1
#endif
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#if PY_VERSION_HEX >= 0x030E0000
#  error "moth does not support this CPython yet: add csrc/cpython/pyver/py3XX.h"
#elif PY_VERSION_HEX >= 0x030D0000
#  include "pyver/py313.h"
#elif PY_VERSION_HEX >= 0x030C0000
#  include "pyver/py312.h"
#elif PY_VERSION_HEX >= 0x030B0000
#  include "pyver/py311.h"
#else
#  error "moth needs CPython 3.11 or newer"
#endif

#ifndef MOTH_LINES_SILENT_FIRST_LINE /* see py313.h */
#  define MOTH_LINES_SILENT_FIRST_LINE 0
#endif

#endif
