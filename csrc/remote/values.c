/* values.c: the target's objects as repr() shows them; see values.h. */
#include "values.h"

#include <stdlib.h>
#include <string.h>

#include "objects.h"
#include "remote.h"
#include "reprfmt.h"
#include "rstring.h"
#include "strbuf.h"

#define TPFLAGS_TYPE_SUBCLASS (1ul << 31)
#define MAX_TYPE_NAME 200
#define ITEM_CHUNK 64
#define MAX_CONTAINER (1ll << 40)

/* Builds one value's text. `chars` counts the characters of sb.data[0..counted): text is
 * counted as it is appended, so the writers can ask whether the budget is spent. */
typedef struct writer {
    moth_remote *t;
    moth_sb sb;
    size_t max_chars, chars, counted;
    int depth, max_depth;
    uint64_t open[64];        /* the containers being written, outermost first */
} writer;

/* Whether more than max_chars characters have been written (or memory ran out). */
static int full(writer *w)
{
    for (; w->counted < w->sb.len; w->counted++)
        if (((unsigned char)w->sb.data[w->counted] & 0xC0) != 0x80)
            w->chars++;
    return w->chars > w->max_chars || w->sb.failed;
}

/* How many more characters fit. */
static size_t room(writer *w)
{
    full(w);
    return w->chars >= w->max_chars ? 0 : w->max_chars - w->chars;
}

/* Copies the NUL-terminated string at addr (at most size - 1 bytes), reading no further than
 * the page it ends in: a name near the end of a mapping must not fail as a whole. */
static int read_cstring(moth_remote *t, uint64_t addr, char *buf, size_t size)
{
    size_t got = 0;
    while (got + 1 < size) {
        uint64_t at = addr + got;
        size_t n = 4096 - (size_t)(at & 4095);
        if (n > size - 1 - got)
            n = size - 1 - got;
        if (moth_remote_read(t, at, buf + got, n) < 0)
            return -1;
        void *nul = memchr(buf + got, '\0', n);
        if (nul)
            return 0;
        got += n;
    }
    buf[size - 1] = '\0';
    return 0;
}

int moth_type_name(moth_remote *t, uint64_t type, char *buf, size_t size)
{
    const moth_py_layout *L = t->L;
    uint64_t meta, flags, name;
    if (!type || moth_mem_u64(&t->mem, type + 8, &meta) < 0)
        return -1;
    if (t->known.type_type && meta != t->known.type_type &&
        (moth_mem_u64(&t->mem, meta + L->type.flags, &flags) < 0 ||
         !(flags & TPFLAGS_TYPE_SUBCLASS)))
        return -1;
    if (moth_mem_u64(&t->mem, type + L->type.name, &name) < 0 || !name ||
        read_cstring(t, name, buf, size) < 0)
        return -1;
    for (char *p = buf; *p; p++)
        if ((unsigned char)*p < ' ')
            return -1; /* not a name: garbage */
    return buf[0] ? 0 : -1;
}

static void write_object(writer *w, uint64_t obj);

/* Takes back what was written after byte `mark`. */
static void rewind_to(writer *w, size_t mark)
{
    full(w);
    for (size_t i = mark; i < w->sb.len; i++)
        if (((unsigned char)w->sb.data[i] & 0xC0) != 0x80)
            w->chars--;
    w->sb.len = w->counted = mark;
    if (w->sb.data)
        w->sb.data[mark] = '\0';
}

static void unreadable(writer *w, uint64_t obj)
{
    moth_sb_printf(&w->sb, "<unreadable object at %#llx>", (unsigned long long)obj);
}

static void write_other(writer *w, uint64_t obj, uint64_t type)
{
    char name[MAX_TYPE_NAME];
    if (moth_type_name(w->t, type, name, sizeof name) < 0) {
        unreadable(w, obj);
        return;
    }
    moth_sb_printf(&w->sb, "<%s at %#llx>", name, (unsigned long long)obj);
}

static void write_int(writer *w, uint64_t obj)
{
    const moth_py_layout *L = w->t->L;
    uint64_t raw;
    if (moth_mem_u64(&w->t->mem, obj + L->integer.size_or_tag, &raw) < 0) {
        unreadable(w, obj);
        return;
    }
    int negative;
    uint64_t ndigits;
    if (L->integer.tagged) {
        negative = (raw & 3) == 2;
        ndigits = raw >> 3;
    } else {
        int64_t size = (int64_t)raw;
        negative = size < 0;
        ndigits = negative ? 0 - (uint64_t)size : (uint64_t)size;
    }
    if (ndigits > MOTH_VALUE_MAX_INT_DIGITS) {
        uint32_t top;
        if (ndigits > (1ull << 40) ||
            moth_remote_read(w->t, obj + L->integer.digit + 4 * (ndigits - 1), &top, 4) < 0 ||
            !top || top >> 30) {
            unreadable(w, obj);
            return;
        }
        moth_sb_printf(&w->sb, "<int of %llu bits at %#llx>",
                       (unsigned long long)((ndigits - 1) * 30 + 32 - __builtin_clz(top)),
                       (unsigned long long)obj);
        return;
    }
    uint32_t small[4], *digits = ndigits <= 4 ? small : malloc(ndigits * 4);
    if (!digits) {
        w->sb.failed = 1;
        return;
    }
    if ((ndigits && moth_remote_read(w->t, obj + L->integer.digit, digits, ndigits * 4) < 0) ||
        moth_repr_bigint(digits, (size_t)ndigits, negative, &w->sb) < 0)
        unreadable(w, obj);
    if (digits != small)
        free(digits);
}

static void write_float(writer *w, uint64_t obj)
{
    double x;
    char text[MOTH_DOUBLE_REPR_MAX];
    if (moth_remote_read(w->t, obj + w->t->L->float_value, &x, sizeof x) < 0) {
        unreadable(w, obj);
        return;
    }
    moth_repr_double(x, text);
    moth_sb_puts(&w->sb, text);
}

/* A str or bytes: only as much as still fits is read (one more, so the cut shows). Python
 * picks the quotes from the whole text; a cut text picks them from the part read. */
static void write_str(writer *w, uint64_t obj)
{
    uint32_t *chars;
    size_t n, length;
    if (moth_remote_str_chars(w->t, obj, room(w) + 1, &chars, &n, &length) < 0) {
        unreadable(w, obj);
        return;
    }
    moth_repr_str(chars, n, w->t->version_hex >> 16, &w->sb);
    free(chars);
}

static void write_bytes(writer *w, uint64_t obj)
{
    uint8_t *bytes;
    size_t n;
    if (moth_remote_bytes(w->t, obj, room(w) + 1, &bytes, &n, NULL) < 0) {
        unreadable(w, obj);
        return;
    }
    moth_repr_bytes(bytes, n, &w->sb);
    free(bytes);
}

/* Items of a tuple (inline at item) or list (behind the pointer at item), read a chunk at a
 * time until the text is full. */
static void write_sequence(writer *w, uint64_t obj, int is_tuple)
{
    const moth_py_layout *L = w->t->L;
    uint64_t raw, items;
    int64_t size;
    uint32_t size_at = is_tuple ? L->tuple.size : L->list.size;
    if (moth_mem_u64(&w->t->mem, obj + size_at, &raw) < 0 || (size = (int64_t)raw) < 0 ||
        size > MAX_CONTAINER) {
        unreadable(w, obj);
        return;
    }
    if (is_tuple)
        items = obj + L->tuple.item;
    else if (moth_mem_u64(&w->t->mem, obj + L->list.item, &items) < 0 || (!items && size)) {
        unreadable(w, obj);
        return;
    }
    moth_sb_putc(&w->sb, is_tuple ? '(' : '[');
    uint64_t chunk[ITEM_CHUNK];
    for (int64_t first = 0; first < size && !full(w); first += ITEM_CHUNK) {
        int64_t n = size - first < ITEM_CHUNK ? size - first : ITEM_CHUNK;
        if (moth_remote_read(w->t, items + (uint64_t)first * 8, chunk, (size_t)n * 8) < 0) {
            moth_sb_puts(&w->sb, first ? ", " : "");
            unreadable(w, items + (uint64_t)first * 8);
            break;
        }
        for (int64_t i = 0; i < n && !full(w); i++) {
            if (first + i)
                moth_sb_puts(&w->sb, ", ");
            write_object(w, chunk[i]);
        }
    }
    if (is_tuple && size == 1)
        moth_sb_putc(&w->sb, ',');
    moth_sb_putc(&w->sb, is_tuple ? ')' : ']');
}

typedef struct dict_writer {
    writer *w;
    int shown;
} dict_writer;

static int write_entry(void *ctx, uint64_t key, uint64_t value)
{
    dict_writer *d = ctx;
    if (d->shown++)
        moth_sb_puts(&d->w->sb, ", ");
    write_object(d->w, key);
    moth_sb_puts(&d->w->sb, ": ");
    write_object(d->w, value);
    return full(d->w);
}

static void write_dict(writer *w, uint64_t obj)
{
    dict_writer d = {w, 0};
    size_t mark = w->sb.len;
    moth_sb_putc(&w->sb, '{');
    if (moth_dict_items(w->t, obj, write_entry, &d) < 0 && !d.shown) {
        rewind_to(w, mark); /* only the brace was written: the whole dict is unreadable */
        unreadable(w, obj);
        return;
    }
    moth_sb_putc(&w->sb, '}');
}

/* A set's table: slots in order, skipping empty ones and deleted ones (hash -1). */
static void write_set(writer *w, uint64_t obj, int frozen)
{
    const moth_py_layout *L = w->t->L;
    uint8_t head[64];
    if (L->set.table + 8 > sizeof head || moth_remote_read(w->t, obj, head, L->set.table + 8) < 0) {
        unreadable(w, obj);
        return;
    }
    int64_t used = (int64_t)moth_u64_at(head, L->set.used);
    uint64_t mask = moth_u64_at(head, L->set.mask), table = moth_u64_at(head, L->set.table);
    if (used < 0 || mask >= (1ull << 40) || (mask & (mask + 1)) || (uint64_t)used > mask + 1 ||
        !table || L->set.entry_size != 16) {
        unreadable(w, obj);
        return;
    }
    if (!used) {
        moth_sb_puts(&w->sb, frozen ? "frozenset()" : "set()");
        return;
    }
    moth_sb_puts(&w->sb, frozen ? "frozenset({" : "{");
    int64_t shown = 0;
    uint64_t chunk[ITEM_CHUNK * 2];
    for (uint64_t first = 0; first <= mask && shown < used && !full(w); first += ITEM_CHUNK) {
        uint64_t n = mask + 1 - first < ITEM_CHUNK ? mask + 1 - first : ITEM_CHUNK;
        if (moth_remote_read(w->t, table + first * 16, chunk, n * 16) < 0) {
            unreadable(w, table + first * 16);
            break;
        }
        for (uint64_t i = 0; i < n && shown < used && !full(w); i++) {
            uint64_t key = chunk[2 * i];
            if (!key || chunk[2 * i + 1] == UINT64_MAX)
                continue;
            if (shown++)
                moth_sb_puts(&w->sb, ", ");
            write_object(w, key);
        }
    }
    moth_sb_puts(&w->sb, frozen ? "})" : "}");
}

/* Writes a container, or its placeholder when it is too deep or already open (a cycle). */
static void write_container(writer *w, uint64_t obj, uint64_t type)
{
    const moth_known_objects *k = &w->t->known;
    const char *placeholder = type == k->tuple_type ? "(...)" : type == k->list_type ? "[...]"
                                                                                      : "{...}";
    int open = w->depth >= w->max_depth || w->depth >= (int)(sizeof w->open / sizeof w->open[0]);
    for (int i = 0; i < w->depth && !open; i++)
        open = w->open[i] == obj;
    if (open) {
        moth_sb_puts(&w->sb, placeholder);
        return;
    }
    w->open[w->depth++] = obj;
    if (type == k->tuple_type || type == k->list_type)
        write_sequence(w, obj, type == k->tuple_type);
    else if (type == k->dict_type)
        write_dict(w, obj);
    else
        write_set(w, obj, type == k->frozenset_type);
    w->depth--;
}

static void write_object(writer *w, uint64_t obj)
{
    const moth_known_objects *k = &w->t->known;
    if (full(w))
        return;
    if (obj && obj == k->none) {
        moth_sb_puts(&w->sb, "None");
        return;
    }
    if (obj && obj == k->true_obj) {
        moth_sb_puts(&w->sb, "True");
        return;
    }
    if (obj && obj == k->false_obj) {
        moth_sb_puts(&w->sb, "False");
        return;
    }
    uint64_t type = moth_obj_type(w->t, obj);
    if (!type) {
        unreadable(w, obj);
        return;
    }
    if (type == k->int_type)
        write_int(w, obj);
    else if (type == k->float_type)
        write_float(w, obj);
    else if (type == k->str_type)
        write_str(w, obj);
    else if (type == k->bytes_type)
        write_bytes(w, obj);
    else if (type == k->tuple_type || type == k->list_type || type == k->dict_type ||
             type == k->set_type || type == k->frozenset_type)
        write_container(w, obj, type);
    else
        write_other(w, obj, type);
}

char *moth_value_repr(moth_remote *t, uint64_t obj, const moth_value_limits *limits)
{
    writer w;
    memset(&w, 0, sizeof w);
    w.t = t;
    w.max_chars = limits ? limits->max_chars : MOTH_VALUE_MAX_CHARS;
    w.max_depth = limits ? limits->max_depth : MOTH_VALUE_MAX_DEPTH;
    write_object(&w, obj);
    if (full(&w) && !w.sb.failed) {
        /* Keep the first max_chars characters, then say that more followed. */
        size_t keep = 0, chars = 0;
        while (keep < w.sb.len && chars <= w.max_chars) {
            if (((unsigned char)w.sb.data[keep] & 0xC0) != 0x80 && ++chars > w.max_chars)
                break;
            keep++;
        }
        w.sb.len = keep;
        moth_sb_puts(&w.sb, "...");
    }
    if (w.sb.failed) {
        moth_sb_free(&w.sb);
        return NULL;
    }
    if (!w.sb.data)
        moth_sb_puts(&w.sb, "");
    return moth_sb_take(&w.sb);
}
