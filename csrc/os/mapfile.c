/* mapfile.c: a whole file mapped read-only; see mapfile.h. */
#include "mapfile.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

int moth_file_map(const char *path, const uint8_t **data, size_t *size, moth_error *err)
{
    *data = NULL;
    *size = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK); /* a FIFO must not block */
    if (fd < 0)
        return moth_fail(err, "cannot open %s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return moth_fail(err, "%s is not a regular file", path);
    }
    if (st.st_size > 0) {
        void *map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (map == MAP_FAILED) {
            int e = errno;
            close(fd);
            return moth_fail(err, "cannot map %s: %s", path, strerror(e));
        }
        *data = map;
        *size = (size_t)st.st_size;
    }
    close(fd);
    return 0;
}

void moth_file_unmap(const uint8_t *data, size_t size)
{
    if (data)
        munmap((void *)data, size);
}
