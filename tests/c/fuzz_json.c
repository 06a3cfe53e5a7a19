/* Fuzz target: the JSON reader. Whatever the bytes, it must not crash, leak or read out of
 * bounds; what it accepts, written back by the writer, must read again to the same text. */
#include "json.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    moth_json_doc *doc = NULL;
    moth_error err;
    if (moth_json_parse((const char *)data, size, &doc, &err) < 0)
        return 0;
    moth_sb once = MOTH_SB_INIT, twice = MOTH_SB_INIT;
    moth_json_write_value(&once, moth_json_root(doc));
    moth_json_doc *again = NULL;
    if (moth_json_parse(once.data, once.len, &again, &err) < 0)
        abort(); /* the writer wrote something the reader refuses */
    moth_json_write_value(&twice, moth_json_root(again));
    if (once.len != twice.len || memcmp(once.data, twice.data, once.len) != 0)
        abort();
    moth_sb_free(&once);
    moth_sb_free(&twice);
    moth_json_free(again);
    moth_json_free(doc);
    return 0;
}
