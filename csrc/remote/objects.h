/*
 * objects.h: the target's containers and instances, walked from outside: dict entries (plain
 * and split tables), an instance's attributes (where each CPython version keeps them),
 * sys.modules, and small ints. What the thread names, locals and asyncio tasks are read through.
 *
 * Everything read is bounded (entry counts, string lengths) and type-checked against the type
 * objects found in the interpreter's symbols; a failed or implausible read gives "not found".
 */
#ifndef MOTH_OBJECTS_H
#define MOTH_OBJECTS_H

#include "common.h"

struct moth_remote;

#define MOTH_MAX_DICT_ENTRIES (1u << 22)

/* The type of the object at obj (its ob_type), 0 when unreadable. */
uint64_t moth_obj_type(struct moth_remote *t, uint64_t obj);

/* Calls visit(ctx, key, value) for each live entry of the dict at dict_obj, in the table's
 * order; visit returns nonzero to stop. 0 when walked (or stopped), -1 when the dict could not
 * be read. */
typedef int (*moth_dict_visit)(void *ctx, uint64_t key, uint64_t value);
int moth_dict_items(struct moth_remote *t, uint64_t dict_obj, moth_dict_visit visit, void *ctx);

/* Calls visit(ctx, key, 0) for each key of the set or frozenset at set_obj, in the table's order
 * (at most MOTH_MAX_DICT_ENTRIES of them); visit returns nonzero to stop. 0 when walked (or
 * stopped), -1 when the set could not be read. */
int moth_set_items(struct moth_remote *t, uint64_t set_obj, moth_dict_visit visit, void *ctx);

/* Calls visit(ctx, index, item) for each item of the list at list_obj (at most
 * MOTH_MAX_DICT_ENTRIES); as moth_set_items otherwise. */
int moth_list_items(struct moth_remote *t, uint64_t list_obj, moth_dict_visit visit, void *ctx);

/* The value for the str key `name` in the dict at dict_obj, 0 when absent or unreadable. */
uint64_t moth_dict_get_str(struct moth_remote *t, uint64_t dict_obj, const char *name);

/* Visits an instance's attributes (its __dict__, managed by the interpreter or at
 * tp_dictoffset); -1 when it has none that can be read. */
int moth_obj_attrs(struct moth_remote *t, uint64_t obj, moth_dict_visit visit, void *ctx);

/* The attribute `name` of an instance (from its __dict__ only), 0 when absent. */
uint64_t moth_obj_attr(struct moth_remote *t, uint64_t obj, const char *name);

/* The class attribute `name` as an instance of type `type` finds it: from the __dict__ of the
 * first class of type's __mro__ that has it; 0 when none has. */
uint64_t moth_class_attr(struct moth_remote *t, uint64_t type, const char *name);

/* The module sys.modules[name], 0 when not imported; moth_module_dict gives its __dict__. */
uint64_t moth_remote_module(struct moth_remote *t, const char *name);
uint64_t moth_module_dict(struct moth_remote *t, uint64_t module);

/* The value of an int object that fits in 64 bits (bool included). -1 when obj is not an int or
 * is larger. */
int moth_obj_int64(struct moth_remote *t, uint64_t obj, int64_t *out);

#endif
