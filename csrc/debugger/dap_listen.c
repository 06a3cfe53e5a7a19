/*
 * dap_listen.c: moth.listen(): a program opens a Debug Adapter Protocol port for a client to
 * attach to, and runs on.
 *
 * A C thread accepts one client at a time and runs that session's request loop itself; when
 * the client disconnects (or goes), its breakpoints and watches are removed and the program
 * runs on as before, and the next client may attach. At the interpreter's exit the port is
 * closed and the session ended before Python goes away (an atexit handler).
 */
#include "dap.h"

#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "interp.h"
#include "pycall.h"
#include "sock.h"

typedef struct moth_dap_listener {
    int fd;
    pthread_t thread;
    char host[256];
    int port;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int configured;         /* sessions that reached configurationDone */
    int stopping;
} moth_dap_listener;

void moth_dap_listener_configured(void)
{
    moth_dap_listener *l = moth_the_interp.dap_listener;
    if (!l)
        return;
    pthread_mutex_lock(&l->lock);
    l->configured++;
    pthread_cond_broadcast(&l->cond);
    pthread_mutex_unlock(&l->lock);
}

static void *acceptor_main(void *arg)
{
    moth_dap_listener *l = arg;
    for (;;) {
        int fd = moth_sock_accept(l->fd, NULL);
        if (fd < 0)
            break; /* the port was closed: the program is ending */
        PyGILState_STATE g = PyGILState_Ensure();
        moth_error err;
        moth_dap_conn *conn = moth_dap_conn_open(fd, fd, 1, &err);
        moth_dap *d = conn ? moth_dap_new(conn, &err) : NULL;
        if (!d) {
            if (conn)
                moth_dap_conn_free(conn);
            else
                close(fd);
            PyGILState_Release(g);
            continue;
        }
        d->listening = 1;
        d->reader_ident = PyThread_get_thread_ident();
        moth_the_interp.dap = d;
        PyGILState_Release(g);
        moth_dap_run_attached(d);
        pthread_mutex_lock(&l->lock);
        int stopping = l->stopping;
        pthread_mutex_unlock(&l->lock);
        if (stopping)
            break;
    }
    return NULL;
}

/* atexit: the port closes and the session ends while Python is still whole. */
static PyObject *stop_listening(PyObject *module, PyObject *unused)
{
    (void)module;
    (void)unused;
    moth_dap_listener *l = moth_the_interp.dap_listener;
    if (!l)
        Py_RETURN_NONE;
    moth_the_interp.dap_listener = NULL;
    pthread_mutex_lock(&l->lock);
    l->stopping = 1;
    pthread_mutex_unlock(&l->lock);
    shutdown(l->fd, SHUT_RDWR); /* wakes the accept */
    moth_dap *d = moth_the_interp.dap;
    if (d && d->listening) {
        moth_dap_end(d);
        moth_dap_conn_close(d->conn);
    }
    Py_BEGIN_ALLOW_THREADS
    pthread_join(l->thread, NULL);
    Py_END_ALLOW_THREADS
    close(l->fd);
    pthread_mutex_destroy(&l->lock);
    pthread_cond_destroy(&l->cond);
    free(l);
    Py_RETURN_NONE;
}

static PyMethodDef stop_listening_def = {"_moth_stop_listening", stop_listening, METH_NOARGS,
                                         NULL};

/* moth.listen(address=5678, *, wait_for_client=False) -> (host, port) */
static PyObject *moth_listen(PyObject *module, PyObject *args, PyObject *kw)
{
    (void)module;
    static char *kwlist[] = {"address", "wait_for_client", NULL};
    PyObject *address = NULL;
    int wait = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|O$p:listen", kwlist, &address, &wait))
        return NULL;
    char host[256] = "127.0.0.1";
    int port = 5678;
    moth_error err;
    if (!address || address == Py_None) {
    } else if (PyLong_Check(address)) {
        port = (int)PyLong_AsLong(address);
    } else if (PyTuple_Check(address)) {
        const char *h;
        if (!PyArg_ParseTuple(address, "si:listen", &h, &port))
            return NULL;
        snprintf(host, sizeof host, "%s", h);
    } else if (PyUnicode_Check(address)) {
        if (moth_sock_parse_address(PyUnicode_AsUTF8(address), host, sizeof host, &port, &err) < 0)
            return PyErr_Format(PyExc_ValueError, "moth.listen: %s", err.msg);
    } else {
        return PyErr_Format(PyExc_TypeError, "moth.listen takes a port, (host, port) or "
                            "'host:port', not %R", address);
    }
    if (PyErr_Occurred())
        return NULL;
    if (moth_the_interp.dap_listener || moth_the_interp.dap)
        return PyErr_Format(PyExc_RuntimeError, "moth.listen: this process has a debugging "
                            "session already");
    int bound;
    int fd = moth_sock_listen_tcp(host, port, &bound, &err);
    if (fd < 0)
        return PyErr_Format(PyExc_OSError, "moth.listen: %s", err.msg);
    moth_dap_listener *l = calloc(1, sizeof *l);
    if (!l) {
        close(fd);
        return PyErr_NoMemory();
    }
    l->fd = fd;
    l->port = bound;
    snprintf(l->host, sizeof l->host, "%s", host);
    pthread_mutex_init(&l->lock, NULL);
    pthread_cond_init(&l->cond, NULL);
    /* threading takes the thread that first imports it for the main thread: that must be
     * the program's, not the acceptor's */
    PyObject *threading = PyImport_ImportModule("threading");
    Py_XDECREF(threading);
    PyObject *hook = threading ? PyCFunction_New(&stop_listening_def, NULL) : NULL;
    PyObject *r = hook ? moth_call_function("atexit", "register", "(O)", hook) : NULL;
    Py_XDECREF(hook);
    if (!r || pthread_create(&l->thread, NULL, acceptor_main, l) != 0) {
        Py_XDECREF(r);
        close(fd);
        free(l);
        return PyErr_Occurred() ? NULL : PyErr_Format(PyExc_RuntimeError,
                                                      "moth.listen: cannot start a thread");
    }
    Py_DECREF(r);
    moth_the_interp.dap_listener = l;
    if (wait) {
        Py_BEGIN_ALLOW_THREADS
        pthread_mutex_lock(&l->lock);
        while (!l->configured && !l->stopping)
            pthread_cond_wait(&l->cond, &l->lock);
        pthread_mutex_unlock(&l->lock);
        Py_END_ALLOW_THREADS
    }
    return Py_BuildValue("(si)", l->host, l->port);
}

PyMethodDef moth_dap_listen_functions[] = {
    {"listen", (PyCFunction)(void (*)(void))moth_listen, METH_VARARGS | METH_KEYWORDS,
     "listen(address=5678, *, wait_for_client=False) -> (host, port)\n\n"
     "Opens a Debug Adapter Protocol port (a port, (host, port) or 'host:port'; 127.0.0.1\n"
     "when no host is given) that a client attaches to; the program runs on meanwhile.\n"
     "wait_for_client=True returns once a client has attached and set its breakpoints."},
    {NULL, NULL, 0, NULL},
};
