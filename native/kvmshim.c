/*
 * ts86 KVM shim: only the system calls JavaScript cannot make. All policy
 * (struct layouts, which ioctls, when) lives in TypeScript (src/accel/kvm).
 *
 *   open(path, flags) -> fd                      close(fd)
 *   ioctl(fd, req, arg) -> int                   arg: undefined | number | bigint | ArrayBuffer | TypedArray | DataView
 *                                                (buffers are passed by pointer; EINTR is retried; errors throw
 *                                                 an Error with .errno and .code)
 *   run(vcpufd, runArea, timeoutNs) -> 0 | -errno   KVM_RUN, never throws (EINTR is a normal outcome: a kick)
 *   mmap(len, prot, flags, fd, offset) -> ArrayBuffer   external, zero-copy; the finalizer munmaps
 *   addressOf(view) -> bigint                    host address of a buffer's first byte (KVM userspace_addr)
 *   eventfd(init, flags) -> fd                   eventfdRead(fd) -> bigint (0n when EAGAIN)   eventfdWrite(fd, n)
 *   poll(fd, events, cb) -> handle               uv_poll on the Node event loop; cb(status, events)
 *   pollStop(handle)
 *   constants                                    ioctl numbers and struct offsets from <linux/kvm.h>, so the
 *                                                TypeScript layouts can be checked against the real header
 *
 * The kick: run() arms a one-shot POSIX timer that sends a real-time signal to the
 * calling thread after timeoutNs, so KVM_RUN returns -EINTR when the next device
 * deadline is due (the userspace PIT, UART timing) even if the guest never exits by
 * itself. The signal handler also sets kvm_run.immediate_exit of the area in use, which
 * closes the race of a signal landing just before the thread enters KVM_RUN
 * (Documentation/virt/kvm/api.rst, "immediate_exit"). This is the only process-wide
 * state of the shim (a signal handler cannot be given a context).
 */
#define _GNU_SOURCE
#define NAPI_VERSION 8
#include <node_api.h>
#include <uv.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include <linux/kvm.h>

#define CHECK(call) do { if ((call) != napi_ok) return NULL; } while (0)

static napi_value throw_errno(napi_env env, const char *what, int err) {
  char msg[256];
  snprintf(msg, sizeof msg, "%s: %s", what, strerror(err));
  napi_value m, e, n, c;
  napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &m);
  napi_create_error(env, NULL, m, &e);
  napi_create_int32(env, err, &n);
  napi_set_named_property(env, e, "errno", n);
  napi_create_string_utf8(env, strerrorname_np(err) ? strerrorname_np(err) : "E?", NAPI_AUTO_LENGTH, &c);
  napi_set_named_property(env, e, "code", c);
  napi_throw(env, e);
  return NULL;
}

static napi_value throw_type(napi_env env, const char *msg) {
  napi_throw_type_error(env, NULL, msg);
  return NULL;
}

static int get_i32(napi_env env, napi_value v, int32_t *out) {
  return napi_get_value_int32(env, v, out) == napi_ok;
}

static napi_value mk_i32(napi_env env, int32_t v) {
  napi_value r;
  napi_create_int32(env, v, &r);
  return r;
}

/* Data pointer and length of an ArrayBuffer, TypedArray or DataView; 0 if v is none of them. */
static int buffer_of(napi_env env, napi_value v, void **data, size_t *len) {
  bool is;
  if (napi_is_arraybuffer(env, v, &is) == napi_ok && is)
    return napi_get_arraybuffer_info(env, v, data, len) == napi_ok;
  if (napi_is_typedarray(env, v, &is) == napi_ok && is) {
    napi_typedarray_type t; size_t n, off; napi_value ab; void *p;
    if (napi_get_typedarray_info(env, v, &t, &n, &p, &ab, &off) != napi_ok) return 0;
    size_t el = 1;
    switch (t) {
      case napi_int16_array: case napi_uint16_array: el = 2; break;
      case napi_int32_array: case napi_uint32_array: case napi_float32_array: el = 4; break;
      case napi_float64_array: case napi_bigint64_array: case napi_biguint64_array: el = 8; break;
      default: break;
    }
    *data = p; *len = n * el;
    return 1;
  }
  if (napi_is_dataview(env, v, &is) == napi_ok && is) {
    napi_value ab; size_t off;
    return napi_get_dataview_info(env, v, len, data, &ab, &off) == napi_ok;
  }
  return 0;
}

static napi_value js_open(napi_env env, napi_callback_info info) {
  size_t argc = 2; napi_value argv[2];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  char path[4096]; size_t n; int32_t flags = O_RDWR;
  if (argc < 1 || napi_get_value_string_utf8(env, argv[0], path, sizeof path, &n) != napi_ok) return throw_type(env, "open(path, flags)");
  if (argc > 1) get_i32(env, argv[1], &flags);
  int fd = open(path, flags | O_CLOEXEC);
  if (fd < 0) return throw_errno(env, path, errno);
  return mk_i32(env, fd);
}

static napi_value js_close(napi_env env, napi_callback_info info) {
  size_t argc = 1; napi_value argv[1]; int32_t fd;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 1 || !get_i32(env, argv[0], &fd)) return throw_type(env, "close(fd)");
  if (close(fd) < 0) return throw_errno(env, "close", errno);
  return NULL;
}

static napi_value js_ioctl(napi_env env, napi_callback_info info) {
  size_t argc = 3; napi_value argv[3]; int32_t fd; int64_t req64;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 2 || !get_i32(env, argv[0], &fd) || napi_get_value_int64(env, argv[1], &req64) != napi_ok) return throw_type(env, "ioctl(fd, request, arg)");
  unsigned long req = (unsigned long)(uint32_t)req64;
  unsigned long arg = 0;
  if (argc > 2) {
    napi_valuetype t;
    CHECK(napi_typeof(env, argv[2], &t));
    if (t == napi_number) { int64_t v; napi_get_value_int64(env, argv[2], &v); arg = (unsigned long)v; }
    else if (t == napi_bigint) { uint64_t v; bool lossless; napi_get_value_bigint_uint64(env, argv[2], &v, &lossless); arg = (unsigned long)v; }
    else if (t != napi_undefined) {
      void *p; size_t len;
      if (!buffer_of(env, argv[2], &p, &len)) return throw_type(env, "ioctl: arg must be a number, bigint, ArrayBuffer, TypedArray or DataView");
      arg = (unsigned long)p;
    }
  }
  int r;
  do r = ioctl(fd, req, arg); while (r < 0 && errno == EINTR);
  if (r < 0) {
    char what[64];
    snprintf(what, sizeof what, "ioctl 0x%lx", req);
    return throw_errno(env, what, errno);
  }
  return mk_i32(env, r);
}

/* ---- KVM_RUN with a deadline kick ---------------------------------------------- */

static volatile struct kvm_run *kick_area;   /* the kvm_run in KVM_RUN right now (or about to be) */
static int kick_signal;
static timer_t kick_timer;
static pid_t kick_tid;                        /* the thread the timer signals */

static void on_kick(int sig) {
  (void)sig;
  struct kvm_run *r = (struct kvm_run *)kick_area;
  if (r) r->immediate_exit = 1;
}

static int kick_setup(void) {
  pid_t tid = (pid_t)syscall(SYS_gettid);
  if (kick_tid == tid) return 0;
  if (kick_tid) { timer_delete(kick_timer); kick_tid = 0; }
  if (!kick_signal) {
    kick_signal = SIGRTMIN + 4;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_kick;          /* no SA_RESTART: KVM_RUN must return EINTR */
    sigemptyset(&sa.sa_mask);
    if (sigaction(kick_signal, &sa, NULL) < 0) return -errno;
  }
  struct sigevent sev;
  memset(&sev, 0, sizeof sev);
  sev.sigev_notify = SIGEV_THREAD_ID;
  sev.sigev_signo = kick_signal;
  sev._sigev_un._tid = tid;
  if (timer_create(CLOCK_MONOTONIC, &sev, &kick_timer) < 0) return -errno;
  kick_tid = tid;
  return 0;
}

static napi_value js_run(napi_env env, napi_callback_info info) {
  size_t argc = 3; napi_value argv[3]; int32_t fd; double timeout = 0;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 2 || !get_i32(env, argv[0], &fd)) return throw_type(env, "run(vcpufd, runArea, timeoutNs)");
  void *area; size_t len;
  if (!buffer_of(env, argv[1], &area, &len) || len < sizeof(struct kvm_run)) return throw_type(env, "run: runArea must be the mmap'd kvm_run");
  if (argc > 2) napi_get_value_double(env, argv[2], &timeout);
  int armed = 0;
  if (timeout > 0) {
    int e = kick_setup();
    if (e < 0) return mk_i32(env, e);
    kick_area = area;
    struct itimerspec its;
    memset(&its, 0, sizeof its);
    if (timeout < 1000) timeout = 1000;
    if (timeout > 1e12) timeout = 1e12;
    its.it_value.tv_sec = (time_t)(timeout / 1e9);
    its.it_value.tv_nsec = (long)(timeout - (double)its.it_value.tv_sec * 1e9);
    if (timer_settime(kick_timer, 0, &its, NULL) < 0) return mk_i32(env, -errno);
    armed = 1;
  }
  int r = ioctl(fd, KVM_RUN, 0);
  int err = r < 0 ? errno : 0;
  if (armed) {
    struct itimerspec off;
    memset(&off, 0, sizeof off);
    timer_settime(kick_timer, 0, &off, NULL);
    kick_area = NULL;
    ((struct kvm_run *)area)->immediate_exit = 0;
  }
  return mk_i32(env, r < 0 ? -err : r);
}

/* ---- memory ----------------------------------------------------------------- */

static void unmap_finalizer(napi_env env, void *data, void *hint) {
  munmap(data, (size_t)(uintptr_t)hint);
}

static napi_value js_mmap(napi_env env, napi_callback_info info) {
  size_t argc = 5; napi_value argv[5]; double len; int32_t prot, flags, fd; int64_t off = 0;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 4 || napi_get_value_double(env, argv[0], &len) != napi_ok || !get_i32(env, argv[1], &prot) || !get_i32(env, argv[2], &flags) || !get_i32(env, argv[3], &fd))
    return throw_type(env, "mmap(len, prot, flags, fd, offset)");
  if (argc > 4) napi_get_value_int64(env, argv[4], &off);
  if (!(len > 0) || len > (double)SIZE_MAX) return throw_type(env, "mmap: bad length");
  void *p = mmap(NULL, (size_t)len, prot, flags, fd, (off_t)off);
  if (p == MAP_FAILED) return throw_errno(env, "mmap", errno);
  napi_value ab;
  if (napi_create_external_arraybuffer(env, p, (size_t)len, unmap_finalizer, (void *)(uintptr_t)(size_t)len, &ab) != napi_ok) {
    munmap(p, (size_t)len);
    return throw_type(env, "mmap: cannot wrap the mapping (external buffers disallowed?)");
  }
  return ab;
}

static napi_value js_address_of(napi_env env, napi_callback_info info) {
  size_t argc = 1; napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  void *p; size_t len;
  if (argc < 1 || !buffer_of(env, argv[0], &p, &len)) return throw_type(env, "addressOf(view)");
  napi_value r;
  napi_create_bigint_uint64(env, (uint64_t)(uintptr_t)p, &r);
  return r;
}

/* ---- eventfd and fd polling on the libuv loop -------------------------------- */

static napi_value js_eventfd(napi_env env, napi_callback_info info) {
  size_t argc = 2; napi_value argv[2]; int32_t init = 0, flags = EFD_NONBLOCK | EFD_CLOEXEC;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc > 0) get_i32(env, argv[0], &init);
  if (argc > 1) get_i32(env, argv[1], &flags);
  int fd = eventfd((unsigned)init, flags);
  if (fd < 0) return throw_errno(env, "eventfd", errno);
  return mk_i32(env, fd);
}

static napi_value js_eventfd_read(napi_env env, napi_callback_info info) {
  size_t argc = 1; napi_value argv[1]; int32_t fd;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 1 || !get_i32(env, argv[0], &fd)) return throw_type(env, "eventfdRead(fd)");
  uint64_t v = 0;
  ssize_t n;
  do n = read(fd, &v, 8); while (n < 0 && errno == EINTR);
  if (n < 0 && errno != EAGAIN) return throw_errno(env, "eventfd read", errno);
  napi_value r;
  napi_create_bigint_uint64(env, n == 8 ? v : 0, &r);
  return r;
}

static napi_value js_eventfd_write(napi_env env, napi_callback_info info) {
  size_t argc = 2; napi_value argv[2]; int32_t fd; int64_t v = 1;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 1 || !get_i32(env, argv[0], &fd)) return throw_type(env, "eventfdWrite(fd, n)");
  if (argc > 1) napi_get_value_int64(env, argv[1], &v);
  uint64_t u = (uint64_t)v;
  ssize_t n;
  do n = write(fd, &u, 8); while (n < 0 && errno == EINTR);
  if (n < 0) return throw_errno(env, "eventfd write", errno);
  return NULL;
}

typedef struct {
  uv_poll_t poll;
  napi_env env;
  napi_ref cb;
  int stopped;
} poll_ctx;

static void poll_closed(uv_handle_t *h) { free(h->data); }

static void poll_cb(uv_poll_t *h, int status, int events) {
  poll_ctx *c = h->data;
  napi_handle_scope scope;
  napi_open_handle_scope(c->env, &scope);
  napi_value cb, global, argv[2];
  napi_get_reference_value(c->env, c->cb, &cb);
  napi_get_global(c->env, &global);
  argv[0] = mk_i32(c->env, status);
  argv[1] = mk_i32(c->env, events);
  napi_value ignored;
  if (napi_call_function(c->env, global, cb, 2, argv, &ignored) == napi_pending_exception) {
    napi_value ex;
    napi_get_and_clear_last_exception(c->env, &ex);
    napi_fatal_exception(c->env, ex);
  }
  napi_close_handle_scope(c->env, scope);
}

static napi_value js_poll(napi_env env, napi_callback_info info) {
  size_t argc = 3; napi_value argv[3]; int32_t fd, events;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  napi_valuetype t = napi_undefined;
  if (argc == 3) napi_typeof(env, argv[2], &t);
  if (argc < 3 || !get_i32(env, argv[0], &fd) || !get_i32(env, argv[1], &events) || t != napi_function) return throw_type(env, "poll(fd, events, cb)");
  uv_loop_t *loop;
  CHECK(napi_get_uv_event_loop(env, &loop));
  poll_ctx *c = calloc(1, sizeof *c);
  if (!c) return throw_errno(env, "poll", ENOMEM);
  c->env = env;
  c->poll.data = c;
  int e = uv_poll_init(loop, &c->poll, fd);
  if (e < 0) { free(c); return throw_errno(env, "uv_poll_init", -e); }
  napi_create_reference(env, argv[2], 1, &c->cb);
  e = uv_poll_start(&c->poll, events, poll_cb);
  if (e < 0) {
    napi_delete_reference(env, c->cb);
    uv_close((uv_handle_t *)&c->poll, poll_closed);
    return throw_errno(env, "uv_poll_start", -e);
  }
  napi_value h;
  napi_create_external(env, c, NULL, NULL, &h);
  return h;
}

static napi_value js_poll_stop(napi_env env, napi_callback_info info) {
  size_t argc = 1; napi_value argv[1]; void *p;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 1 || napi_get_value_external(env, argv[0], &p) != napi_ok) return throw_type(env, "pollStop(handle)");
  poll_ctx *c = p;
  if (c->stopped) return NULL;
  c->stopped = 1;
  uv_poll_stop(&c->poll);
  napi_delete_reference(env, c->cb);
  uv_close((uv_handle_t *)&c->poll, poll_closed);
  return NULL;
}

/* ---- constants from the real header (to check the TypeScript layouts) ---------- */

static void set_num(napi_env env, napi_value obj, const char *name, double v) {
  napi_value n;
  napi_create_double(env, v, &n);
  napi_set_named_property(env, obj, name, n);
}

static napi_value make_constants(napi_env env) {
  napi_value o;
  napi_create_object(env, &o);
#define C(name) set_num(env, o, #name, (double)(uint32_t)(name))
  C(KVM_GET_API_VERSION); C(KVM_CREATE_VM); C(KVM_CHECK_EXTENSION); C(KVM_GET_VCPU_MMAP_SIZE); C(KVM_GET_SUPPORTED_CPUID);
  C(KVM_SET_TSS_ADDR); C(KVM_SET_IDENTITY_MAP_ADDR); C(KVM_SET_USER_MEMORY_REGION); C(KVM_CREATE_VCPU); C(KVM_CREATE_IRQCHIP);
  C(KVM_CREATE_PIT2); C(KVM_IRQ_LINE); C(KVM_RUN); C(KVM_GET_REGS); C(KVM_SET_REGS); C(KVM_GET_SREGS); C(KVM_SET_SREGS);
  C(KVM_SET_CPUID2); C(KVM_INTERRUPT); C(KVM_SET_GUEST_DEBUG); C(KVM_GET_VCPU_EVENTS); C(KVM_SET_VCPU_EVENTS);
  C(KVM_GET_LAPIC); C(KVM_SET_LAPIC); C(KVM_SET_MSRS); C(KVM_SET_FPU); C(KVM_NMI); C(KVM_IRQFD); C(KVM_IOEVENTFD);
#undef C
#define S(name, v) set_num(env, o, name, (double)(v))
  S("sizeof_kvm_run", sizeof(struct kvm_run)); S("sizeof_kvm_regs", sizeof(struct kvm_regs)); S("sizeof_kvm_sregs", sizeof(struct kvm_sregs));
  S("sizeof_kvm_vcpu_events", sizeof(struct kvm_vcpu_events)); S("sizeof_kvm_guest_debug", sizeof(struct kvm_guest_debug));
  S("sizeof_kvm_segment", sizeof(struct kvm_segment)); S("sizeof_kvm_cpuid_entry2", sizeof(struct kvm_cpuid_entry2));
  S("run_exit_reason", offsetof(struct kvm_run, exit_reason)); S("run_ready_for_interrupt_injection", offsetof(struct kvm_run, ready_for_interrupt_injection));
  S("run_if_flag", offsetof(struct kvm_run, if_flag)); S("run_request_interrupt_window", offsetof(struct kvm_run, request_interrupt_window));
  S("run_immediate_exit", offsetof(struct kvm_run, immediate_exit)); S("run_io", offsetof(struct kvm_run, io)); S("run_mmio", offsetof(struct kvm_run, mmio));
  S("run_internal", offsetof(struct kvm_run, internal)); S("run_debug", offsetof(struct kvm_run, debug));
  S("run_fail_entry", offsetof(struct kvm_run, fail_entry));
  S("sregs_cr0", offsetof(struct kvm_sregs, cr0)); S("sregs_efer", offsetof(struct kvm_sregs, efer)); S("sregs_apic_base", offsetof(struct kvm_sregs, apic_base));
  S("sregs_gdt", offsetof(struct kvm_sregs, gdt)); S("sregs_idt", offsetof(struct kvm_sregs, idt)); S("sregs_interrupt_bitmap", offsetof(struct kvm_sregs, interrupt_bitmap));
  S("events_exception", offsetof(struct kvm_vcpu_events, exception)); S("events_interrupt", offsetof(struct kvm_vcpu_events, interrupt));
  S("events_nmi", offsetof(struct kvm_vcpu_events, nmi)); S("events_flags", offsetof(struct kvm_vcpu_events, flags));
  S("events_exception_has_payload", offsetof(struct kvm_vcpu_events, exception_has_payload));
  S("EFD_NONBLOCK", EFD_NONBLOCK); S("EFD_CLOEXEC", EFD_CLOEXEC);
  S("PROT_READ", PROT_READ); S("PROT_WRITE", PROT_WRITE); S("MAP_SHARED", MAP_SHARED); S("MAP_PRIVATE", MAP_PRIVATE);
  S("MAP_ANONYMOUS", MAP_ANONYMOUS); S("MAP_NORESERVE", MAP_NORESERVE); S("O_RDWR", O_RDWR);
  S("UV_READABLE", UV_READABLE); S("UV_WRITABLE", UV_WRITABLE); S("EINTR", EINTR); S("EAGAIN", EAGAIN);
#undef S
  return o;
}

static napi_value init(napi_env env, napi_value exports) {
  /* Enumerable, so Object.keys(shim) lists the API (napi_default is not enumerable). */
  const napi_property_attributes a = napi_enumerable | napi_writable;
  napi_property_descriptor d[] = {
    { "open", NULL, js_open, NULL, NULL, NULL, a, NULL },
    { "close", NULL, js_close, NULL, NULL, NULL, a, NULL },
    { "ioctl", NULL, js_ioctl, NULL, NULL, NULL, a, NULL },
    { "run", NULL, js_run, NULL, NULL, NULL, a, NULL },
    { "mmap", NULL, js_mmap, NULL, NULL, NULL, a, NULL },
    { "addressOf", NULL, js_address_of, NULL, NULL, NULL, a, NULL },
    { "eventfd", NULL, js_eventfd, NULL, NULL, NULL, a, NULL },
    { "eventfdRead", NULL, js_eventfd_read, NULL, NULL, NULL, a, NULL },
    { "eventfdWrite", NULL, js_eventfd_write, NULL, NULL, NULL, a, NULL },
    { "poll", NULL, js_poll, NULL, NULL, NULL, a, NULL },
    { "pollStop", NULL, js_poll_stop, NULL, NULL, NULL, a, NULL },
    { "constants", NULL, NULL, NULL, NULL, make_constants(env), a, NULL },
  };
  if (napi_define_properties(env, exports, sizeof d / sizeof d[0], d) != napi_ok) return NULL;
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
