/* got_patch.c: GOT entries of the loaded ELF objects rewritten in place; see got_patch.h. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "got_patch.h"

#include <elf.h>
#include <link.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#if defined(__x86_64__)
#  define IS_CALL_SLOT(type) ((type) == R_X86_64_JUMP_SLOT || (type) == R_X86_64_GLOB_DAT)
#elif defined(__aarch64__)
#  define IS_CALL_SLOT(type) ((type) == R_AARCH64_JUMP_SLOT || (type) == R_AARCH64_GLOB_DAT)
#else
#  error "got_patch.c knows x86-64 and AArch64 relocations only"
#endif

#if __ELF_NATIVE_CLASS == 64
#  define R_SYM(info) ELF64_R_SYM(info)
#  define R_TYPE(info) ELF64_R_TYPE(info)
#else
#  define R_SYM(info) ELF32_R_SYM(info)
#  define R_TYPE(info) ELF32_R_TYPE(info)
#endif

void moth_got_patch_init(moth_got_patch *gp, const moth_got_hook *hooks, size_t nhooks,
                         const void *const *skip, size_t nskip)
{
    memset(gp, 0, sizeof *gp);
    gp->hooks = hooks;
    gp->nhooks = nhooks;
    for (size_t i = 0; i < nskip && i < 4; i++)
        gp->skip[gp->nskip++] = skip[i];
    pthread_mutex_init(&gp->lock, NULL);
}

void moth_got_patch_free(moth_got_patch *gp)
{
    free(gp->objects);
    free(gp->slots);
    pthread_mutex_destroy(&gp->lock);
    memset(gp, 0, sizeof *gp);
}

/* The dynamic loader, the vDSO: never patched (the loader's own calls run before and under
 * everything else, and the vDSO has no GOT worth touching). */
static int is_loader_or_vdso(const char *name)
{
    const char *base = strrchr(name, '/');
    base = base ? base + 1 : name;
    return strncmp(base, "ld-linux", 8) == 0 || strncmp(base, "ld-musl", 7) == 0 ||
           strncmp(base, "linux-vdso", 10) == 0 || strncmp(base, "linux-gate", 10) == 0;
}

static int contains(const struct dl_phdr_info *info, const void *address)
{
    uintptr_t a = (uintptr_t)address;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        uintptr_t start = info->dlpi_addr + ph->p_vaddr;
        if (ph->p_type == PT_LOAD && a >= start && a - start < ph->p_memsz)
            return 1;
    }
    return 0;
}

static uint64_t hash_name(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

/* The index of the object in gp->objects, or -1. */
static long find_object(const moth_got_patch *gp, uintptr_t base, const void *phdr, uint64_t h)
{
    for (size_t i = 0; i < gp->nobjects; i++)
        if (gp->objects[i].base == base && gp->objects[i].phdr == phdr &&
            gp->objects[i].name_hash == h)
            return (long)i;
    return -1;
}

/* Writes value into a GOT slot: the page is made writable for the store and, when it lies in
 * the part of PT_GNU_RELRO the loader made read-only, read-only again. */
static int write_slot(void **where, void *value, int relro)
{
    uintptr_t page_size = (uintptr_t)sysconf(_SC_PAGESIZE);
    void *page = (void *)((uintptr_t)where & ~(page_size - 1));
    if (mprotect(page, page_size, PROT_READ | PROT_WRITE) != 0)
        return -1;
    __atomic_store_n(where, value, __ATOMIC_RELEASE);
    if (relro)
        mprotect(page, page_size, PROT_READ);
    return 0;
}

typedef struct walk {
    moth_got_patch *gp;
    size_t patched;
    int failed;
    moth_error *err;
} walk;

/* An address the dynamic section gives: glibc relocates these in place when it loads an
 * object, other loaders (and the vDSO) leave them as offsets from the load bias. */
static uintptr_t dyn_address(uintptr_t base, uintptr_t value)
{
    return value < base ? base + value : value;
}

typedef struct dyn_tables {
    const ElfW(Sym) *symtab;
    const char *strtab;
    size_t strsz;
} dyn_tables;

static const moth_got_hook *hook_for(const moth_got_patch *gp, const dyn_tables *t, size_t sym)
{
    const ElfW(Sym) *s = &t->symtab[sym];
    if (s->st_name >= t->strsz)
        return NULL;
    const char *name = t->strtab + s->st_name;
    for (size_t i = 0; i < gp->nhooks; i++)
        if (name[0] == gp->hooks[i].name[0] && strcmp(name, gp->hooks[i].name) == 0)
            return &gp->hooks[i];
    return NULL;
}

static int patch_slot(walk *w, uint32_t object, void **where, const moth_got_hook *hook,
                      uintptr_t relro_start, uintptr_t relro_end)
{
    moth_got_patch *gp = w->gp;
    if (*where == hook->replacement)
        return 0; /* a twin relocation of a slot already written */
    if (moth_grow((void **)&gp->slots, sizeof *gp->slots, &gp->slots_cap, gp->nslots + 1,
                  w->err) < 0)
        return -1;
    uintptr_t a = (uintptr_t)where;
    int relro = a >= relro_start && a < relro_end;
    moth_got_slot *slot = &gp->slots[gp->nslots];
    slot->where = where;
    slot->original = *where;
    slot->replacement = hook->replacement;
    slot->object = object;
    slot->relro = relro;
    if (write_slot(where, hook->replacement, relro) < 0)
        return 0; /* a slot that cannot be written: that object keeps calling the original */
    gp->nslots++;
    w->patched++;
    return 0;
}

/* Patches the relocations of one table (REL or RELA entries, `entsize` bytes each). */
static int patch_table(walk *w, uint32_t object, uintptr_t base, const dyn_tables *t,
                       uintptr_t table, size_t size, int rela, uintptr_t relro_start,
                       uintptr_t relro_end)
{
    size_t entsize = rela ? sizeof(ElfW(Rela)) : sizeof(ElfW(Rel));
    for (size_t off = 0; off + entsize <= size; off += entsize) {
        /* Rel is Rela's first two fields */
        const ElfW(Rel) *r = (const ElfW(Rel) *)(table + off);
        if (!IS_CALL_SLOT(R_TYPE(r->r_info)) || R_SYM(r->r_info) == 0)
            continue;
        const moth_got_hook *hook = hook_for(w->gp, t, R_SYM(r->r_info));
        if (hook && patch_slot(w, object, (void **)(base + r->r_offset), hook, relro_start,
                               relro_end) < 0)
            return -1;
    }
    return 0;
}

static int patch_object(walk *w, struct dl_phdr_info *info, uint32_t object)
{
    uintptr_t base = info->dlpi_addr;
    const ElfW(Dyn) *dyn = NULL;
    uintptr_t relro_start = 0, relro_end = 0;
    uintptr_t page_size = (uintptr_t)sysconf(_SC_PAGESIZE);
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type == PT_DYNAMIC)
            dyn = (const ElfW(Dyn) *)(base + ph->p_vaddr);
        else if (ph->p_type == PT_GNU_RELRO) {
            /* what the loader protects: whole pages only, the end rounded down */
            relro_start = (base + ph->p_vaddr) & ~(page_size - 1);
            relro_end = (base + ph->p_vaddr + ph->p_memsz) & ~(page_size - 1);
        }
    }
    if (!dyn)
        return 0;
    dyn_tables t = {NULL, NULL, 0};
    uintptr_t jmprel = 0, rela = 0, rel = 0;
    size_t pltrelsz = 0, relasz = 0, relsz = 0;
    int pltrel_is_rela = 1;
    for (const ElfW(Dyn) *d = dyn; d->d_tag != DT_NULL; d++) {
        switch (d->d_tag) {
        case DT_SYMTAB: t.symtab = (const ElfW(Sym) *)dyn_address(base, d->d_un.d_ptr); break;
        case DT_STRTAB: t.strtab = (const char *)dyn_address(base, d->d_un.d_ptr); break;
        case DT_STRSZ: t.strsz = d->d_un.d_val; break;
        case DT_JMPREL: jmprel = dyn_address(base, d->d_un.d_ptr); break;
        case DT_PLTRELSZ: pltrelsz = d->d_un.d_val; break;
        case DT_PLTREL: pltrel_is_rela = d->d_un.d_val == DT_RELA; break;
        case DT_RELA: rela = dyn_address(base, d->d_un.d_ptr); break;
        case DT_RELASZ: relasz = d->d_un.d_val; break;
        case DT_REL: rel = dyn_address(base, d->d_un.d_ptr); break;
        case DT_RELSZ: relsz = d->d_un.d_val; break;
        default: break;
        }
    }
    if (!t.symtab || !t.strtab)
        return 0;
    if ((jmprel && patch_table(w, object, base, &t, jmprel, pltrelsz, pltrel_is_rela,
                               relro_start, relro_end) < 0) ||
        (rela && patch_table(w, object, base, &t, rela, relasz, 1, relro_start, relro_end) < 0) ||
        (rel && patch_table(w, object, base, &t, rel, relsz, 0, relro_start, relro_end) < 0))
        return -1;
    return 0;
}

static int apply_one(struct dl_phdr_info *info, size_t size, void *data)
{
    (void)size;
    walk *w = data;
    moth_got_patch *gp = w->gp;
    const char *name = info->dlpi_name ? info->dlpi_name : "";
    if (w->failed || is_loader_or_vdso(name))
        return 0;
    for (size_t i = 0; i < gp->nskip; i++)
        if (contains(info, gp->skip[i]))
            return 0;
    uint64_t h = hash_name(name);
    if (find_object(gp, info->dlpi_addr, info->dlpi_phdr, h) >= 0)
        return 0;
    if (moth_grow((void **)&gp->objects, sizeof *gp->objects, &gp->objects_cap,
                  gp->nobjects + 1, w->err) < 0) {
        w->failed = 1;
        return 0;
    }
    uint32_t index = (uint32_t)gp->nobjects++;
    gp->objects[index] = (moth_got_object){info->dlpi_addr, info->dlpi_phdr, h, 1};
    if (patch_object(w, info, index) < 0)
        w->failed = 1;
    return 0;
}

int moth_got_patch_apply(moth_got_patch *gp, size_t *patched, moth_error *err)
{
    walk w = {gp, 0, 0, err};
    pthread_mutex_lock(&gp->lock);
    dl_iterate_phdr(apply_one, &w);
    pthread_mutex_unlock(&gp->lock);
    if (patched)
        *patched = w.patched;
    return w.failed ? -1 : 0;
}

static int mark_present(struct dl_phdr_info *info, size_t size, void *data)
{
    (void)size;
    moth_got_patch *gp = data;
    long i = find_object(gp, info->dlpi_addr, info->dlpi_phdr,
                         hash_name(info->dlpi_name ? info->dlpi_name : ""));
    if (i >= 0)
        gp->objects[i].present = 1;
    return 0;
}

void moth_got_patch_restore(moth_got_patch *gp)
{
    pthread_mutex_lock(&gp->lock);
    for (size_t i = 0; i < gp->nobjects; i++)
        gp->objects[i].present = 0;
    dl_iterate_phdr(mark_present, gp);
    /* Newest first: a slot patched twice (never, but cheap to honour) gets its first value. */
    for (size_t i = gp->nslots; i-- > 0;) {
        moth_got_slot *s = &gp->slots[i];
        if (gp->objects[s->object].present &&
            __atomic_load_n(s->where, __ATOMIC_ACQUIRE) == s->replacement)
            write_slot(s->where, s->original, s->relro);
    }
    gp->nslots = 0;
    gp->nobjects = 0;
    pthread_mutex_unlock(&gp->lock);
}
