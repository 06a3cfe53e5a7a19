/* Fuzz target: moth's SQLite file reader. The bytes are written to a temporary file and read
 * as a moth profile; SQLite itself guards the database format, moth checks everything it gets
 * out of it (ids, parents, functions, versions). */
#include "loadfile.h"
#include "mothfile.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[] = "/tmp/moth-fuzz-XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0)
        return 0;
    if (write(fd, data, size) != (ssize_t)size) {
        close(fd);
        unlink(path);
        return 0;
    }
    close(fd);
    moth_loaded l;
    moth_error err;
    if (moth_load_profile_file(path, -1, &l, &err) == 0)
        moth_loaded_free(&l);
    unlink(path);
    return 0;
}
