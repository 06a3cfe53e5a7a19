/* Fuzz target: a Debug Adapter Protocol stream, framed and then parsed, fed in pieces whose
 * sizes come from the input itself. Must never crash, leak or read out of bounds. */
#include "dap_wire.h"
#include "json.h"

#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    moth_dap_wire w = MOTH_DAP_WIRE_INIT;
    moth_error err;
    size_t i = 0;
    while (i < size) {
        size_t piece = 1 + data[i] % 64;
        if (piece > size - i)
            piece = size - i;
        if (moth_dap_wire_feed(&w, data + i, piece, &err) < 0)
            break;
        i += piece;
        const char *body;
        size_t len;
        moth_dap_wire_result r;
        while ((r = moth_dap_wire_next(&w, &body, &len, &err)) != MOTH_DAP_NEED_MORE) {
            if (r == MOTH_DAP_MESSAGE) {
                moth_json_doc *doc = NULL;
                if (moth_json_parse(body, len, &doc, &err) == 0)
                    moth_json_free(doc);
            }
        }
    }
    moth_dap_wire_free(&w);
    return 0;
}
