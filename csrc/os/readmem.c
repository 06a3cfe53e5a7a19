/* readmem.c: what every memory source shares; see readmem.h. */
#include "readmem.h"

#include <string.h>

size_t moth_mem_readv(moth_memsrc *m, moth_read_piece *pieces, size_t count)
{
    m->reads++;
    if (m->readv)
        return m->readv(m->ctx, pieces, count);
    size_t done = 0;
    while (done < count &&
           m->read(m->ctx, pieces[done].addr, pieces[done].buf, pieces[done].len) == 0)
        done++;
    return done;
}

void moth_mem_close(moth_memsrc *m)
{
    if (m->close)
        m->close(m->ctx);
    memset(m, 0, sizeof *m);
}
