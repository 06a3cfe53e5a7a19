/* stack.c: reading one thread's frames from outside; see stack.h. */
#include "stack.h"

#include <stdlib.h>
#include <string.h>

#include "code.h"
#include "linetable.h"
#include "remote.h"

#define MAX_CHUNK_COPY (4u << 20)
#define ATTEMPTS 3

void moth_stack_reader_free(moth_stack_reader *r)
{
    free(r->chunk);
    memset(r, 0, sizeof *r);
}

void moth_rstack_free(moth_rstack *s)
{
    free(s->frames);
    memset(s, 0, sizeof *s);
}

/* Copies the used part of the thread's current data stack chunk. Failing is not an error:
 * frames are then read one by one. */
static void copy_chunk(moth_remote *t, moth_stack_reader *r, const moth_rthread *th)
{
    r->chunk_lo = r->chunk_hi = 0;
    if (!th->chunk || th->chunk_top <= th->chunk || th->chunk_top - th->chunk > MAX_CHUNK_COPY)
        return;
    size_t n = (size_t)(th->chunk_top - th->chunk);
    if (n > r->chunk_cap) {
        uint8_t *bigger = realloc(r->chunk, n);
        if (!bigger)
            return;
        r->chunk = bigger;
        r->chunk_cap = n;
    }
    if (moth_remote_read(t, th->chunk, r->chunk, n) == 0) {
        r->chunk_lo = th->chunk;
        r->chunk_hi = th->chunk_top;
    }
}

/* The fixed part of the frame at addr: from the chunk copy, or read into buf. NULL when it
 * cannot be read. */
static const uint8_t *frame_bytes(moth_remote *t, moth_stack_reader *r, uint64_t addr,
                                  uint8_t *buf)
{
    uint32_t size = t->L->frame.size;
    if (addr >= r->chunk_lo && addr < r->chunk_hi && r->chunk_hi - addr >= size)
        return r->chunk + (addr - r->chunk_lo);
    return moth_remote_read(t, addr, buf, size) == 0 ? buf : NULL;
}

static int push(moth_rstack *s, moth_rframe f)
{
    if (moth_grow((void **)&s->frames, sizeof *s->frames, &s->cap, s->count + 1, NULL) < 0)
        return -1;
    s->frames[s->count++] = f;
    return 0;
}

/* One attempt: 0 when the walk was consistent, 1 when it should be tried again, -1 on a
 * failure that trying again will not mend (out of memory). */
static int walk(moth_remote *t, moth_stack_reader *r, const moth_rthread *th, moth_rstack *out)
{
    const moth_py_layout *L = t->L;
    out->count = 0;
    out->truncated = 0;
    copy_chunk(t, r, th);
    uint8_t buf[256];
    int entry_pending = 1; /* the innermost Python frame of each C-level entry */
    for (uint64_t addr = th->frame; addr;) {
        if (out->count >= MOTH_MAX_DEPTH) {
            out->truncated = 1;
            break;
        }
        const uint8_t *f = frame_bytes(t, r, addr, buf);
        if (!f)
            return 1;
        uint64_t code_addr = moth_u64_at(f, L->frame.code);
        uint64_t previous = moth_u64_at(f, L->frame.previous);
        uint8_t owner = f[L->frame.owner];
        if (previous == addr)
            return 1;
        if (owner == L->frame.owner_cstack) {
            /* 3.12+: the shim frame where C called into the interpreter. */
            entry_pending = 1;
            addr = previous;
            continue;
        }
        uint32_t code = moth_code_get(t, code_addr);
        if (code == MOTH_NO_FUNC) {
            /* 3.13 frames may run something other than a code object; elsewhere this is a
             * torn read. */
            if (L->version >= 0x030d && code_addr)
                goto next;
            return 1;
        }
        const moth_rcode *c = &t->codes.items[code];
        uint64_t start = code_addr + L->code.code_adaptive;
        int64_t unit = ((int64_t)(moth_u64_at(f, L->frame.instr) - start)) / 2;
        if (unit < -1 || unit >= (int64_t)c->units)
            return 1;
        moth_rframe rf = {addr, code, moth_code_line(c, (long)unit), owner, 0};
        if (entry_pending) {
            rf.entry = 1;
            entry_pending = 0;
        }
        if (L->frame.is_entry != MOTH_NO_FIELD && f[L->frame.is_entry])
            entry_pending = 1; /* 3.11: this frame began an entry; its caller is in another */
        if (push(out, rf) < 0)
            return -1;
    next:
        addr = previous;
    }
    /* Did the thread move while we read? */
    uint64_t now = 0;
    if (th->frame_slot && moth_mem_u64(&t->mem, th->frame_slot, &now) < 0)
        return 1;
    return now == th->frame ? 0 : 1;
}

int moth_remote_stack(moth_remote *t, moth_stack_reader *r, moth_rthread *th, moth_rstack *out)
{
    r->stats.stacks++;
    for (int attempt = 0; attempt < ATTEMPTS; attempt++) {
        if (attempt) {
            r->stats.retries++;
            uint64_t next;
            if (moth_remote_thread_state(t, th, &next) < 0)
                break;
        }
        int rc = walk(t, r, th, out);
        if (rc == 0)
            return 0;
        if (rc < 0)
            break;
    }
    out->count = 0;
    r->stats.dropped++;
    return -1;
}
