/* locals.c: a frame's arguments and local variables; see locals.h. */
#include "locals.h"

#include <stdlib.h>

#include "code.h"
#include "objects.h"
#include "remote.h"

#define CO_VARARGS 0x4
#define CO_VARKEYWORDS 0x8
#define CO_FAST_CELL 0x40
#define CO_FAST_FREE 0x80

int moth_frame_vars(moth_remote *t, uint64_t frame, uint32_t code, moth_var_visit visit,
                    void *ctx)
{
    if (code >= t->codes.count)
        return -1;
    moth_rcode *c = &t->codes.items[code];
    if (moth_code_load_locals(t, c) < 0)
        return -1;
    uint32_t n = c->nlocalsplus;
    uint64_t *slots = malloc(n ? n * sizeof *slots : 1);
    if (!slots || (n && moth_remote_read(t, frame + t->L->frame.localsplus, slots,
                                         n * sizeof *slots) < 0)) {
        free(slots);
        return -1;
    }
    uint64_t nargs = (uint64_t)c->argcount + c->kwonlyargcount + !!(c->flags & CO_VARARGS) +
                     !!(c->flags & CO_VARKEYWORDS);
    for (uint32_t i = 0; i < n; i++) {
        uint64_t value = slots[i];
        /* Before the frame's first instruction has made its cells, a cell slot holds the
         * argument itself (or nothing): only a cell object is looked into. */
        if (value && (c->local_kinds[i] & (CO_FAST_CELL | CO_FAST_FREE)) && t->known.cell_type &&
            moth_obj_type(t, value) == t->known.cell_type &&
            moth_mem_u64(&t->mem, value + t->L->cell_ref, &value) < 0)
            value = 0;
        if (value && visit(ctx, c->local_names[i], value, i < nargs))
            break;
    }
    free(slots);
    return 0;
}
