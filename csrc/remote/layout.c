/* layout.c: the table of known CPython versions; see layout.h. */
#include "layout.h"

#include <stddef.h>

static const moth_py_layout *const KNOWN[] = {
    &moth_layout_py311,
    &moth_layout_py312,
    &moth_layout_py313,
};

const moth_py_layout *moth_layout_for(uint32_t version)
{
    for (size_t i = 0; i < sizeof KNOWN / sizeof KNOWN[0]; i++)
        if (KNOWN[i]->version == version)
            return KNOWN[i];
    return NULL;
}
