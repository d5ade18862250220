/*
 * Snapshot starts (SnapStart) for Node.js, inside the sandbox: the template's fork server, as a
 * Node-API addon. The same protocol as fireside_snapshot.py and fireside_snapshot.rb: for each
 * request on the control socket (JSON with `tmp_bytes` and `seccomp` in hex, plus two
 * descriptors: the environment's own socket and its output pipe) the template forks; the child
 * gives itself user, mount, network, PID, IPC and UTS namespaces nested in the template's
 * sandbox and a fresh /tmp, and forks the runtime, PID 1 of its namespace, which mounts its
 * /proc, brings up loopback, drops every capability, loads the strict seccomp filter and
 * Landlock, re-creates libuv's kernel state (uv_loop_fork), sends its credentials
 * (SCM_CREDENTIALS) and only then returns to JavaScript, parked until a start takes it. The
 * intermediate child reports the runtime's exit status on the environment's socket.
 *
 * A parked copy also writes ahead the pages that the template's first copy wrote up to its first
 * event (`learn`, `prefault`; see `struct learnt`), so that a start copies none of them.
 *
 * `serve(fd)` never returns in the template (it exits when Fireside closes the socket); in
 * each environment it returns the environment's own socket, on which `receive(fd)` waits for
 * what Fireside sends: `{"network": true}` once the environment's network is served (the
 * copy then connects to its Runtime API ahead, with `connect(host, port)`, a blocking connect
 * that returns the descriptor), and `{"env": {...}}` when a start takes it.
 *
 * No Node.js headers are needed (none are installed, and node-gyp would download them): the
 * few Node-API and libuv functions used are declared below. Both are stable ABIs that the node
 * binary exports, so the undefined symbols of this library resolve against it when Node
 * dlopens it. Two things a fork of Node needs are not in those APIs and are found by symbol
 * (see allow_fork_copies and run_worker_tasks_inline). Built by Fireside on the host:
 * cc -O2 -shared -fPIC.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

/* Node-API (js_native_api.h, node_api.h) and libuv: just what this file calls. */
typedef struct napi_env__ *napi_env;
typedef struct napi_value__ *napi_value;
typedef struct napi_callback_info__ *napi_callback_info;
typedef int napi_status; /* an enum; 0 is napi_ok */
typedef napi_value (*napi_callback)(napi_env, napi_callback_info);
typedef struct uv_loop_s uv_loop_t;
extern napi_status napi_get_cb_info(napi_env, napi_callback_info, size_t *, napi_value *,
                                    napi_value *, void **);
extern napi_status napi_get_value_int32(napi_env, napi_value, int32_t *);
extern napi_status napi_get_value_string_utf8(napi_env, napi_value, char *, size_t, size_t *);
extern napi_status napi_create_string_utf8(napi_env, const char *, size_t, napi_value *);
extern napi_status napi_create_int32(napi_env, int32_t, napi_value *);
extern napi_status napi_create_function(napi_env, const char *, size_t, napi_callback, void *,
                                        napi_value *);
extern napi_status napi_set_named_property(napi_env, napi_value, const char *, napi_value);
extern napi_status napi_throw_error(napi_env, const char *, const char *);
extern napi_status napi_get_uv_event_loop(napi_env, uv_loop_t **);
extern int uv_loop_fork(uv_loop_t *);
extern const char *uv_strerror(int);

/* Landlock (linux/landlock.h) and capabilities (linux/capability.h), declared here so that
 * older kernel headers still build it; the syscall numbers are the same on every architecture
 * for Landlock. */
#define LANDLOCK_CREATE_RULESET 444
#define LANDLOCK_ADD_RULE 445
#define LANDLOCK_RESTRICT_SELF 446
struct ruleset_attr { uint64_t handled_access_fs, handled_access_net, scoped; };
struct __attribute__((packed)) path_beneath_attr { uint64_t allowed_access; int32_t parent_fd; };
struct cap_header { uint32_t version; int pid; };
struct cap_data { uint32_t effective, permitted, inheritable; };
struct sock_filter_insn { uint16_t code; uint8_t jt, jf; uint32_t k; };
struct sock_fprog_ { unsigned short len; struct sock_filter_insn *filter; };

/* A failed step: the message Fireside's other runtimes print, then the caller's way out. */
static int fail(const char *stage, const char *what) {
    fprintf(stderr, "fireside snapshot: could not %s: %s: %s\n", stage, what, strerror(errno));
    fflush(stderr);
    return -1;
}

static int write_file(const char *path, const char *text) {
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    ssize_t n = write(fd, text, strlen(text));
    int saved = errno;
    close(fd);
    errno = saved;
    return n == (ssize_t)strlen(text) ? 0 : -1;
}

/* New namespaces for this process (and a PID namespace for its next child). */
static int nest(long long tmp_bytes) {
    const char *stage = "make an environment";
    char map[64], options[64];
    uid_t uid = getuid();
    gid_t gid = getgid();
    if (unshare(CLONE_NEWUSER) != 0) return fail(stage, "unshare(CLONE_NEWUSER)");
    if (write_file("/proc/self/setgroups", "deny") != 0) return fail(stage, "setgroups");
    snprintf(map, sizeof map, "%u %u 1", (unsigned)uid, (unsigned)uid);
    if (write_file("/proc/self/uid_map", map) != 0) return fail(stage, "uid_map");
    snprintf(map, sizeof map, "%u %u 1", (unsigned)gid, (unsigned)gid);
    if (write_file("/proc/self/gid_map", map) != 0) return fail(stage, "gid_map");
    if (unshare(CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS) != 0)
        return fail(stage, "unshare(namespaces)");
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) return fail(stage, "make / private");
    snprintf(options, sizeof options, "size=%lld,mode=1777", tmp_bytes);
    if (mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, options) != 0)
        return fail(stage, "mount /tmp");
    return 0;
}

/* In the new PID namespace (as its PID 1): its own /proc and a loopback that is up. */
static int settle_inside(void) {
    const char *stage = "restore an environment";
    struct ifreq request;
    if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) != 0)
        return fail(stage, "mount /proc");
    int probe = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (probe < 0) return fail(stage, "socket");
    memset(&request, 0, sizeof request);
    strcpy(request.ifr_name, "lo");
    int result = ioctl(probe, SIOCGIFFLAGS, &request);
    if (result == 0) {
        request.ifr_flags |= IFF_UP;
        result = ioctl(probe, SIOCSIFFLAGS, &request);
    }
    int saved = errno;
    close(probe);
    errno = saved;
    return result == 0 ? 0 : fail(stage, "bring up lo");
}

/* No capabilities left, no way to gain any, and the strict system call filter. */
static int drop_privileges(struct sock_filter_insn *program, size_t count) {
    const char *stage = "restore an environment";
    struct cap_header header = {0x20080522, 0}; /* _LINUX_CAPABILITY_VERSION_3 */
    struct cap_data data[2];
    struct sock_fprog_ fprog = {(unsigned short)count, program};
    memset(data, 0, sizeof data);
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return fail(stage, "prctl(NO_NEW_PRIVS)");
    if (syscall(SYS_capset, &header, data) != 0) return fail(stage, "capset");
    if (prctl(PR_SET_SECCOMP, 2 /* SECCOMP_MODE_FILTER */, &fprog, 0, 0) != 0)
        return fail(stage, "prctl(SECCOMP)");
    return 0;
}

/* The rules of fireside_landlock.py: read and execute anywhere, write under /tmp, file writes
 * under /dev and /proc, and (ABI 6+) no signals or abstract sockets outside the domain. */
static int landlock(void) {
    const char *stage = "restore an environment";
    long abi = syscall(LANDLOCK_CREATE_RULESET, NULL, 0, 1 /* _VERSION */);
    if (abi <= 0) return 0; /* no Landlock in this kernel: the namespaces and seccomp remain */
    uint64_t all = (1u << 13) - 1;
    if (abi >= 2) all |= 1u << 13; /* REFER */
    if (abi >= 3) all |= 1u << 14; /* TRUNCATE */
    if (abi >= 5) all |= 1u << 15; /* IOCTL_DEV */
    struct ruleset_attr attr = {all, 0, abi >= 6 ? 3 : 0};
    /* Older kernels reject an attribute larger than the fields they know. */
    long ruleset = syscall(LANDLOCK_CREATE_RULESET, &attr, abi >= 6 ? 24 : 8, 0);
    if (ruleset < 0) return fail(stage, "landlock_create_ruleset");
    const uint64_t read = 1 | 4 | 8; /* EXECUTE, READ_FILE, READ_DIR */
    const uint64_t file_writes = 2 | 4 | (all & ((1u << 14) | (1u << 15)));
    const struct { const char *path; uint64_t allowed; } rules[] = {
        {"/", read}, {"/tmp", all}, {"/dev", read | file_writes}, {"/proc", read | file_writes},
    };
    for (size_t i = 0; i < sizeof rules / sizeof rules[0]; i++) {
        int fd = open(rules[i].path, O_PATH | O_CLOEXEC);
        if (fd < 0) {
            if (errno == ENOENT) continue; /* not in this sandbox: nothing to allow */
            close(ruleset);
            return fail(stage, rules[i].path);
        }
        struct path_beneath_attr rule = {rules[i].allowed, fd};
        long added = syscall(LANDLOCK_ADD_RULE, ruleset, 1 /* PATH_BENEATH */, &rule, 0);
        int saved = errno;
        close(fd);
        errno = saved;
        if (added != 0) {
            close(ruleset);
            return fail(stage, "landlock_add_rule");
        }
    }
    long restricted = syscall(LANDLOCK_RESTRICT_SELF, ruleset, 0);
    int saved = errno;
    close(ruleset);
    errno = saved;
    return restricted == 0 ? 0 : fail(stage, "landlock_restrict_self");
}

/* V8 maps its heap MADV_DONTFORK (on Linux, so that a fork does not copy its large
 * reservations): a plain fork's child has no JavaScript heap and dies at its first access. The
 * template gives every mapping back to its children, once, before it serves: nothing in it
 * allocates afterwards (the main thread waits here, V8 runs no background tasks). */
static int allow_fork_copies(void) {
    int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return fail("serve snapshots", "open /proc/self/maps");
    size_t size = 0, capacity = 1 << 16;
    char *maps = malloc(capacity + 1);
    for (;;) {
        if (maps == NULL) {
            close(fd);
            return fail("serve snapshots", "malloc");
        }
        ssize_t got = read(fd, maps + size, capacity - size);
        if (got < 0 && errno == EINTR) continue;
        if (got < 0) {
            close(fd);
            free(maps);
            return fail("serve snapshots", "read /proc/self/maps");
        }
        if (got == 0) break;
        size += (size_t)got;
        if (size == capacity) maps = realloc(maps, (capacity *= 2) + 1);
    }
    close(fd);
    maps[size] = '\0';
    /* Read whole before changing anything: madvise splits and merges the areas it lists. */
    for (char *line = maps; line && *line; line = strchr(line, '\n'), line = line ? line + 1 : NULL) {
        unsigned long start, end;
        if (sscanf(line, "%lx-%lx", &start, &end) != 2) continue;
        /* EINVAL: areas that are never copied (VM_IO: [vvar]); ENOMEM: outside what madvise
         * reaches ([vsyscall]). Neither holds anything of V8's. */
        if (madvise((void *)start, end - start, MADV_DOFORK) != 0 && errno != EINVAL &&
            errno != ENOMEM) {
            free(maps);
            return fail("serve snapshots", "madvise(MADV_DOFORK)");
        }
    }
    free(maps);
    return 0;
}

/* V8 still posts some work to Node's worker threads under --single-threaded (V8 11's full
 * collections hand weak-reference clearing to a job). A copy has no worker threads: such a task
 * never runs, Node then waits for it for ever when the event loop empties (DrainTasks), and the
 * queue's condition variable still counts the template's waiting threads, so signalling it can
 * block too. The template therefore makes Node's platform run worker tasks at once, on the
 * posting thread, by replacing NodePlatform::CallOnWorkerThread in its virtual table (node
 * exports both symbols). A job's work is meant to run beside the thread that posts it, so
 * running it first is one of the orders V8 already allows. */
static const char VTABLE[] = "_ZTVN4node12NodePlatformE";
static const char CALL_ON_WORKER[] =
    "_ZN4node12NodePlatform18CallOnWorkerThreadESt10unique_ptrIN2v84TaskESt14default_deleteIS3_EE";

/* The unique_ptr<v8::Task> arrives by reference (Itanium C++ ABI: it has a destructor) and its
 * owner, the caller, deletes the task afterwards. Run() follows the two destructors. */
static void run_worker_task_now(void *platform, void **task) {
    (void)platform;
    if (*task != NULL) (*(void (***)(void *))*task)[2](*task);
}

/* The protection of the mapping holding `address` (to put it back as it was), or -1. */
static int protection_of(const void *address) {
    FILE *maps = fopen("/proc/self/maps", "re");
    if (maps == NULL) return -1;
    char line[512], perms[8];
    unsigned long start, end;
    int protection = -1;
    while (protection < 0 && fgets(line, sizeof line, maps) != NULL) {
        if (sscanf(line, "%lx-%lx %7s", &start, &end, perms) == 3 &&
            start <= (uintptr_t)address && (uintptr_t)address < end)
            protection = (perms[0] == 'r' ? PROT_READ : 0) | (perms[1] == 'w' ? PROT_WRITE : 0) |
                         (perms[2] == 'x' ? PROT_EXEC : 0);
    }
    fclose(maps);
    return protection;
}

static int run_worker_tasks_inline(void) {
    const char *stage = "serve snapshots";
    void **vtable = dlsym(RTLD_DEFAULT, VTABLE);
    void *original = dlsym(RTLD_DEFAULT, CALL_ON_WORKER);
    if (vtable == NULL || original == NULL) {
        errno = ENOENT;
        return fail(stage, "find node::NodePlatform (a node built without its symbols?)");
    }
    for (size_t i = 2; i < 64; i++) {
        if (vtable[i] != original) continue;
        long page = sysconf(_SC_PAGESIZE);
        void *start = (void *)((uintptr_t)&vtable[i] & ~(uintptr_t)(page - 1));
        int protection = protection_of(&vtable[i]);
        if (protection < 0) return fail(stage, "read /proc/self/maps");
        if (mprotect(start, (size_t)page, protection | PROT_WRITE) != 0)
            return fail(stage, "mprotect(NodePlatform's vtable)");
        vtable[i] = (void *)run_worker_task_now;
        if (mprotect(start, (size_t)page, protection) != 0)
            return fail(stage, "mprotect(NodePlatform's vtable)");
        return 0;
    }
    errno = ENOENT;
    return fail(stage, "find CallOnWorkerThread in NodePlatform's vtable");
}

/* The template's own SIGCHLD handling (libuv's, if Init started a child process): the
 * environment gets it back; the template itself ignores SIGCHLD so the kernel reaps the
 * intermediates. */
static struct sigaction saved_sigchld;

static void set_sigchld(void (*handler)(int)) {
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = handler;
    sigemptyset(&action.sa_mask);
    sigaction(SIGCHLD, &action, NULL);
}

/* The environment, parked: its namespaces settled, every privilege dropped, the filter and
 * Landlock loaded and libuv's kernel state its own before it reports ready. Returns its own
 * socket, on which `receive` waits for its variables; exits on failure. */
static int environment(napi_env env, int own, int output, struct sock_filter_insn *program,
                       size_t count) {
    const char *stage = "restore an environment";
    if (settle_inside() != 0) _exit(1);
    if (dup2(output, 1) < 0 || dup2(output, 2) < 0) {
        fail(stage, "dup2");
        _exit(1);
    }
    close(output);
    if (drop_privileges(program, count) != 0) _exit(1);
    const char *wanted = getenv("FIRESIDE_LANDLOCK");
    if (wanted != NULL && strcmp(wanted, "1") == 0 && landlock() != 0) _exit(1);
    sigaction(SIGCHLD, &saved_sigchld, NULL);

    /* libuv's epoll instance, wake-up descriptors and io_uring (if any) are shared with the
     * template: this makes them the environment's own before JavaScript runs again. */
    uv_loop_t *loop = NULL;
    int err = napi_get_uv_event_loop(env, &loop) == 0 ? uv_loop_fork(loop) : -1;
    if (err != 0) {
        fprintf(stderr, "fireside snapshot: could not %s: uv_loop_fork: %s\n", stage,
                loop ? uv_strerror(err) : "no event loop");
        _exit(1);
    }

    /* "ready", with credentials: the kernel translates our pid into Fireside's view. */
    static const char ready[] = "{\"ready\": true}\n";
    struct ucred credentials = {getpid(), getuid(), getgid()};
    char control[CMSG_SPACE(sizeof credentials)];
    struct iovec iov = {(void *)ready, sizeof ready - 1};
    struct msghdr message = {0};
    memset(control, 0, sizeof control);
    message.msg_iov = &iov;
    message.msg_iovlen = 1;
    message.msg_control = control;
    message.msg_controllen = sizeof control;
    struct cmsghdr *header = CMSG_FIRSTHDR(&message);
    header->cmsg_level = SOL_SOCKET;
    header->cmsg_type = SCM_CREDENTIALS;
    header->cmsg_len = CMSG_LEN(sizeof credentials);
    memcpy(CMSG_DATA(header), &credentials, sizeof credentials);
    if (sendmsg(own, &message, MSG_NOSIGNAL) < 0) {
        fail(stage, "sendmsg(ready)");
        _exit(1);
    }
    return own;
}

/* The descriptor a function was called with (its first argument), or -1 after throwing
 * `usage` as a JavaScript error. */
static int32_t descriptor_argument(napi_env env, napi_callback_info info, const char *usage) {
    size_t argc = 1;
    napi_value argv[1];
    int32_t fd = -1;
    if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != 0 || argc < 1 ||
        napi_get_value_int32(env, argv[0], &fd) != 0 || fd < 0) {
        napi_throw_error(env, NULL, usage);
        return -1;
    }
    return fd;
}

/* receive(ownFd): in a parked environment, wait for the next whole lines Fireside sends
 * (`{"network": true}`, then `{"env": {...}}` when a start takes it) and return them; the
 * process exits if Fireside discards it instead. */
static napi_value receive(napi_env env, napi_callback_info info) {
    const char *stage = "restore an environment";
    int32_t own = descriptor_argument(env, info, "receive(ownFd): a descriptor is required");
    if (own < 0) return NULL;
    size_t size = 0, capacity = 65536;
    char *line = malloc(capacity + 1);
    if (line == NULL) {
        fail(stage, "malloc");
        _exit(1);
    }
    while (size == 0 || line[size - 1] != '\n') {
        if (size == capacity) {
            char *bigger = realloc(line, capacity * 2 + 1);
            if (bigger == NULL) {
                fail(stage, "realloc");
                _exit(1);
            }
            line = bigger;
            capacity *= 2;
        }
        ssize_t got = read(own, line + size, capacity - size);
        if (got == 0) _exit(0); /* Fireside gave up on this environment */
        if (got < 0) {
            if (errno == EINTR) continue;
            fail(stage, "read(env)");
            _exit(1);
        }
        size += (size_t)got;
    }
    napi_value result;
    if (napi_create_string_utf8(env, line, size, &result) != 0) {
        fprintf(stderr, "fireside snapshot: could not hand over the environment\n");
        _exit(1);
    }
    free(line);
    return result;
}

/* The child of the template: nests namespaces, forks the environment, reports its exit. Only
 * the environment returns from here. */
static int intermediate(napi_env env, long long tmp_bytes, int own, int output,
                        struct sock_filter_insn *program, size_t count) {
    int status = 1;
    set_sigchld(SIG_DFL);
    if (setsid() < 0) {
        fail("make an environment", "setsid");
    } else if (nest(tmp_bytes) == 0) {
        pid_t child = fork();
        if (child == 0) return environment(env, own, output, program, count);
        if (child < 0) {
            fail("make an environment", "fork");
        } else {
            int wait_status;
            pid_t done;
            while ((done = waitpid(child, &wait_status, 0)) < 0 && errno == EINTR) {
            }
            if (done < 0) {
                fail("make an environment", "waitpid");
            } else {
                status = WIFEXITED(wait_status) ? WEXITSTATUS(wait_status)
                                                : -WTERMSIG(wait_status);
            }
        }
    }
    char report[32];
    int length = snprintf(report, sizeof report, "{\"exit\": %d}\n", status);
    if (send(own, report, (size_t)length, MSG_NOSIGNAL) < 0)
        fail("make an environment", "report the exit");
    _exit(0);
}

/* The request's fields, from Fireside's own JSON: `tmp_bytes` and `seccomp` (hex). */
static long long request_tmp_bytes(const char *request) {
    const char *field = strstr(request, "\"tmp_bytes\"");
    if (field == NULL) return 512LL * 1024 * 1024;
    field = strchr(field, ':');
    return field ? strtoll(field + 1, NULL, 10) : 512LL * 1024 * 1024;
}

static struct sock_filter_insn *request_seccomp(const char *request, size_t *count) {
    const char *field = strstr(request, "\"seccomp\"");
    if (field == NULL || (field = strchr(field + 9, '"')) == NULL) return NULL;
    field++;
    size_t digits = strspn(field, "0123456789abcdefABCDEF");
    if (digits == 0 || digits % 16 != 0) return NULL; /* whole 8-byte instructions only */
    unsigned char *bytes = malloc(digits / 2);
    if (bytes == NULL) return NULL;
    for (size_t i = 0; i < digits / 2; i++) {
        char pair[3] = {field[2 * i], field[2 * i + 1], 0};
        bytes[i] = (unsigned char)strtoul(pair, NULL, 16);
    }
    *count = digits / 16;
    return (struct sock_filter_insn *)bytes;
}

/* connect(host, port): in a parked environment, a blocking TCP connection to its Runtime API
 * (a numeric address on its own network, where Fireside already listens), returned as a
 * descriptor for a net.Socket; -1 when it cannot be made (the runtime connects later). */
static napi_value connect_to(napi_env env, napi_callback_info info) {
    size_t argc = 2;
    napi_value argv[2];
    char host[64];
    int32_t port = -1;
    int fd = -1;
    if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != 0 || argc < 2 ||
        napi_get_value_string_utf8(env, argv[0], host, sizeof host, NULL) != 0 ||
        napi_get_value_int32(env, argv[1], &port) != 0 || port <= 0 || port > 65535) {
        napi_throw_error(env, NULL, "connect(host, port): an address is required");
        return NULL;
    }
    char service[8];
    snprintf(service, sizeof service, "%d", (int)port);
    struct addrinfo hints, *found = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
    if (getaddrinfo(host, service, &hints, &found) == 0) {
        for (struct addrinfo *at = found; at != NULL && fd < 0; at = at->ai_next) {
            fd = socket(at->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
            if (fd >= 0 && connect(fd, at->ai_addr, at->ai_addrlen) != 0) {
                close(fd);
                fd = -1;
            }
        }
        freeaddrinfo(found);
    }
    if (fd >= 0) {
        int on = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
    }
    napi_value result;
    if (napi_create_int32(env, fd, &result) != 0) return NULL;
    return result;
}

/* Pages a copy's first invocation writes, learnt once per template and written ahead by the
 * copies parked after that. A copy shares every page with its template until it writes one;
 * each first write is a page fault that copies the page (V8's young generation, the feedback
 * of each function that runs, Node's and libuv's own state): about a hundred between a start's
 * variables and its response, several microseconds each here. The first copy to receive an
 * event lists the pages it holds alone by then (`learn`: /proc/self/pagemap's "exclusively
 * mapped" bit, which needs no privilege and no soft-dirty support, which this kernel lacks); a
 * copy parked afterwards writes those of them it still shares (`prefault`), before a start takes
 * it. The list lives in memory shared by the template and all its copies (mapped before the
 * first fork). Writing a page ahead changes no byte of it: only when it is copied. */
#define LEARNT_MAX 8192 /* pages: at most 32 MB written ahead per copy */
#define PAGE_PRESENT (1ULL << 63)
#define PAGE_EXCLUSIVE (1ULL << 56)
enum { LEARNT_NONE, LEARNT_LEARNING, LEARNT_READY };
struct learnt {
    int state; /* LEARNT_*, changed atomically */
    uint32_t count;
    uintptr_t pages[LEARNT_MAX]; /* ascending */
};
static struct learnt *learnt;

/* Calls `visit` for every page of this process's private writable mappings, in ascending
 * order, with its pagemap entry; stops when `visit` returns nonzero. */
typedef int (*page_visitor)(uintptr_t page, uint64_t entry, void *context);

static int visit_writable_pages(page_visitor visit, void *context) {
    FILE *maps = fopen("/proc/self/maps", "re");
    if (maps == NULL) return -1;
    int pagemap = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
    if (pagemap < 0) {
        fclose(maps);
        return -1;
    }
    static uint64_t entries[4096];
    const uintptr_t page_size = (uintptr_t)sysconf(_SC_PAGESIZE);
    char line[512], perms[8];
    unsigned long start, end;
    int stop = 0;
    while (!stop && fgets(line, sizeof line, maps) != NULL) {
        if (sscanf(line, "%lx-%lx %7s", &start, &end, perms) != 3) continue;
        if (perms[0] != 'r' || perms[1] != 'w' || perms[3] != 'p') continue;
        for (uintptr_t at = start; !stop && at < end;) {
            size_t wanted = (end - at) / page_size;
            if (wanted > sizeof entries / 8) wanted = sizeof entries / 8;
            ssize_t got = pread(pagemap, entries, wanted * 8, (off_t)(at / page_size) * 8);
            if (got <= 0) break;
            for (size_t i = 0; !stop && i < (size_t)got / 8; i++)
                stop = visit(at + i * page_size, entries[i], context);
            at += (size_t)got / 8 * page_size;
        }
    }
    close(pagemap);
    fclose(maps);
    return 0;
}

static int record_page(uintptr_t page, uint64_t entry, void *context) {
    (void)context;
    if ((entry & PAGE_PRESENT) && (entry & PAGE_EXCLUSIVE)) learnt->pages[learnt->count++] = page;
    return learnt->count == LEARNT_MAX;
}

/* learn(): in a copy that has received its first event, list the pages it no longer shares with
 * its template, once per template (the first copy to get here). Returns how many, or -1. */
static napi_value learn(napi_env env, napi_callback_info info) {
    (void)info;
    int expected = LEARNT_NONE;
    int32_t count = -1;
    if (learnt != NULL && __atomic_compare_exchange_n(&learnt->state, &expected, LEARNT_LEARNING,
                                                      0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
        learnt->count = 0;
        visit_writable_pages(record_page, NULL);
        count = (int32_t)learnt->count;
        __atomic_store_n(&learnt->state, LEARNT_READY, __ATOMIC_RELEASE);
    }
    napi_value result;
    if (napi_create_int32(env, count, &result) != 0) return NULL;
    return result;
}

struct prefaulting { uint32_t next, count, written; };

/* A learnt page this copy still shares with its template: written (with the byte it holds),
 * so that the kernel copies it now rather than at the first write after a start. */
static int prefault_page(uintptr_t page, uint64_t entry, void *context) {
    struct prefaulting *at = context;
    while (at->next < at->count && learnt->pages[at->next] < page) at->next++;
    if (at->next == at->count) return 1;
    if (learnt->pages[at->next] == page && (entry & PAGE_PRESENT) && !(entry & PAGE_EXCLUSIVE)) {
        volatile unsigned char *byte = (volatile unsigned char *)page;
        *byte = *byte;
        at->written++;
    }
    return 0;
}

/* prefault(): in a parked copy (nothing else runs in it), write ahead the pages learnt by an
 * earlier copy. Returns how many pages it wrote, or -1 when none were learnt yet. */
static napi_value prefault(napi_env env, napi_callback_info info) {
    (void)info;
    struct prefaulting at = {0, 0, 0};
    int32_t written = -1;
    if (learnt != NULL && __atomic_load_n(&learnt->state, __ATOMIC_ACQUIRE) == LEARNT_READY) {
        /* Read once and bounded: the list is shared with every copy, whose code can write it. */
        at.count = learnt->count < LEARNT_MAX ? learnt->count : LEARNT_MAX;
        visit_writable_pages(prefault_page, &at);
        written = (int32_t)at.written;
    }
    napi_value result;
    if (napi_create_int32(env, written, &result) != 0) return NULL;
    return result;
}

/* serve(controlFd): the template's loop, one environment per request, until Fireside closes. */
static napi_value serve(napi_env env, napi_callback_info info) {
    int32_t control = descriptor_argument(env, info, "serve(controlFd): a descriptor is required");
    if (control < 0) return NULL;
    struct sigaction ignore;
    memset(&ignore, 0, sizeof ignore);
    ignore.sa_handler = SIG_IGN;
    sigemptyset(&ignore.sa_mask);
    if (sigaction(SIGCHLD, &ignore, &saved_sigchld) != 0) {
        fail("serve snapshots", "sigaction(SIGCHLD)");
        _exit(1);
    }
    if (allow_fork_copies() != 0 || run_worker_tasks_inline() != 0) _exit(1);
    /* After allow_fork_copies, which would not change it: shared, not copied, by every fork. */
    void *shared = mmap(NULL, sizeof *learnt, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
                        -1, 0);
    learnt = shared == MAP_FAILED ? NULL : shared; /* without it, copies only write nothing ahead */
    static char request[65537];
    for (;;) {
        char control_buffer[CMSG_SPACE(2 * sizeof(int))];
        struct iovec iov = {request, sizeof request - 1};
        struct msghdr message = {0};
        message.msg_iov = &iov;
        message.msg_iovlen = 1;
        message.msg_control = control_buffer;
        message.msg_controllen = sizeof control_buffer;
        ssize_t got = recvmsg(control, &message, MSG_CMSG_CLOEXEC);
        if (got == 0) _exit(0); /* Fireside closed the socket: the template is done */
        if (got < 0) {
            if (errno == EINTR) continue;
            fail("serve snapshots", "recvmsg");
            _exit(1);
        }
        request[got] = '\0';
        int fds[2] = {-1, -1};
        for (struct cmsghdr *h = CMSG_FIRSTHDR(&message); h; h = CMSG_NXTHDR(&message, h)) {
            if (h->cmsg_level == SOL_SOCKET && h->cmsg_type == SCM_RIGHTS &&
                h->cmsg_len >= CMSG_LEN(2 * sizeof(int)))
                memcpy(fds, CMSG_DATA(h), sizeof fds);
        }
        size_t count = 0;
        struct sock_filter_insn *program = request_seccomp(request, &count);
        if (fds[0] < 0 || fds[1] < 0 || program == NULL) {
            /* Never run an environment without its filter: Fireside times out instead. */
            fprintf(stderr, "fireside snapshot: a request without its descriptors or filter\n");
        } else {
            pid_t child = fork();
            if (child == 0) {
                close(control);
                /* Only the environment gets here: back to JavaScript, as a new process. */
                int own = intermediate(env, request_tmp_bytes(request), fds[0], fds[1],
                                       program, count);
                free(program);
                napi_value result;
                if (napi_create_int32(env, own, &result) != 0) {
                    fprintf(stderr, "fireside snapshot: could not hand over the environment\n");
                    _exit(1);
                }
                return result;
            }
            if (child < 0) fail("make an environment", "fork");
        }
        free(program);
        if (fds[0] >= 0) close(fds[0]);
        if (fds[1] >= 0) close(fds[1]);
    }
}

/* exit(code): how an environment ends. Node's own exit joins V8's worker threads, which a
 * forked process does not have (only the forking thread is copied): it would crash there. */
static napi_value exit_now(napi_env env, napi_callback_info info) {
    size_t argc = 1;
    napi_value argv[1];
    int32_t code = 0;
    if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != 0 || argc < 1 ||
        napi_get_value_int32(env, argv[0], &code) != 0)
        code = 1;
    _exit(code);
}

napi_value napi_register_module_v1(napi_env env, napi_value exports) {
    napi_value function;
    if (napi_create_function(env, "serve", 5, serve, NULL, &function) != 0 ||
        napi_set_named_property(env, exports, "serve", function) != 0 ||
        napi_create_function(env, "receive", 7, receive, NULL, &function) != 0 ||
        napi_set_named_property(env, exports, "receive", function) != 0 ||
        napi_create_function(env, "connect", 7, connect_to, NULL, &function) != 0 ||
        napi_set_named_property(env, exports, "connect", function) != 0 ||
        napi_create_function(env, "exit", 4, exit_now, NULL, &function) != 0 ||
        napi_set_named_property(env, exports, "exit", function) != 0 ||
        napi_create_function(env, "learn", 5, learn, NULL, &function) != 0 ||
        napi_set_named_property(env, exports, "learn", function) != 0 ||
        napi_create_function(env, "prefault", 8, prefault, NULL, &function) != 0 ||
        napi_set_named_property(env, exports, "prefault", function) != 0) {
        napi_throw_error(env, NULL, "fireside_fork: could not export its functions");
    }
    return exports;
}
