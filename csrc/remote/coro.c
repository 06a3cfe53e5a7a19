/* coro.c: coroutines and generators of the target; see coro.h. */
#include "coro.h"

#include <string.h>

#include "code.h"
#include "linetable.h"
#include "objects.h"
#include "remote.h"

#define MAX_STACK_DEPTH (1 << 16)

static int is_coro_type(const moth_remote *t, uint64_t type)
{
    const moth_known_objects *k = &t->known;
    return type && (type == k->coro_type || type == k->gen_type || type == k->asyncgen_type);
}

int moth_is_coro(moth_remote *t, uint64_t obj)
{
    return is_coro_type(t, moth_obj_type(t, obj));
}

/* The top of the frame's value stack (_PyFrame_StackPeek), 0 when implausible. */
static uint64_t stack_peek(moth_remote *t, uint64_t frame, const uint8_t *f, const moth_rcode *c)
{
    const moth_py_layout *L = t->L;
    int32_t top = (int32_t)moth_u32_at(f, L->frame.stacktop);
    uint64_t value;
    if (top <= (int32_t)c->nlocalsplus || top > (int32_t)c->nlocalsplus + MAX_STACK_DEPTH ||
        moth_mem_u64(&t->mem, frame + L->frame.localsplus + 8 * (uint64_t)(top - 1), &value) < 0)
        return 0;
    return value;
}

/* Whether a suspended frame waits inside a yield from or await (3.11, 3.12): the instruction
 * after the one it stopped at is a RESUME whose argument says so. */
static int in_yield_from(moth_remote *t, uint64_t instr)
{
    const moth_py_layout *L = t->L;
    uint8_t next[2];
    if (moth_remote_read(t, instr + 2, next, sizeof next) < 0)
        return 0;
    return (next[0] == L->opcode.resume || next[0] == L->opcode.resume_alt) && (next[1] & 3) >= 2;
}

int moth_coro_read(moth_remote *t, uint64_t obj, moth_rcoro *out)
{
    const moth_py_layout *L = t->L;
    uint8_t buf[512];
    uint32_t size = L->gen.iframe + L->frame.size;
    memset(out, 0, sizeof *out);
    out->obj = obj;
    out->code = MOTH_NO_FUNC;
    out->line = MOTH_NO_LINE;
    if (size > sizeof buf)
        return -1;
    /* One read for the type and the frame; an object too small for that is not a coroutine,
     * and says so by its type alone. */
    if (moth_remote_read(t, obj, buf, size) < 0)
        return moth_obj_type(t, obj) && !moth_is_coro(t, obj) ? 1 : -1;
    if (!is_coro_type(t, moth_u64_at(buf, 8)))
        return moth_u64_at(buf, 8) ? 1 : -1;
    int8_t state = (int8_t)buf[L->gen.frame_state];
    const uint8_t *f = buf + L->gen.iframe;
    out->frame = obj + L->gen.iframe;
    if (state >= L->gen.completed) {
        out->state = MOTH_CORO_DONE;
        return 0;
    }
    if (state == L->gen.created)
        out->state = MOTH_CORO_CREATED;
    else if (state == 0)
        out->state = MOTH_CORO_RUNNING;
    else if (state == L->gen.suspended || state == L->gen.suspended_yield_from)
        out->state = MOTH_CORO_SUSPENDED;
    else
        return -1;
    uint64_t code_addr = moth_u64_at(f, L->frame.code);
    uint32_t code = moth_code_get(t, code_addr);
    if (code == MOTH_NO_FUNC)
        return -1;
    const moth_rcode *c = &t->codes.items[code];
    uint64_t instr = moth_u64_at(f, L->frame.instr);
    int64_t unit = ((int64_t)(instr - (code_addr + L->code.code_adaptive))) / 2;
    if (unit < -1 || unit >= (int64_t)c->units)
        return -1;
    out->code = code;
    out->line = moth_code_line(c, (long)unit);
    if (out->state != MOTH_CORO_SUSPENDED)
        return 0;
    int yield_from = L->gen.suspended_yield_from != MOTH_NO_STATE
                         ? state == L->gen.suspended_yield_from
                         : in_yield_from(t, instr);
    if (yield_from)
        out->awaits = stack_peek(t, out->frame, f, c);
    return 0;
}
