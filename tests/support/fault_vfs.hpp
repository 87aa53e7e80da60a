#pragma once
// A SQLite VFS that wraps the default one and fails chosen I/O calls, for fault-injection tests
// (the method of SQLite's own I/O-error tests). Register once with fault_vfs::install(); open a
// database with the VFS name "kakehashi-fault"; arm a fault with fail(op, n), which makes the
// n-th call of `op` (write, sync or truncate) from now fail with an I/O error or a full disk
// (once, or every time after with persistent). fail_sync(n) is fail(sync, n). One fault is armed
// at a time; calls() counts each operation, to know when a workload no longer reaches the fault.

#include <sqlite3.h>

#include <atomic>
#include <cstring>

namespace kakehashi::test::fault_vfs {

inline sqlite3_vfs* real_vfs = nullptr;

enum class op { write, sync, truncate };
enum class kind { io_error, disk_full };

inline std::atomic<op> armed_op{op::sync};
inline std::atomic<kind> armed_kind{kind::io_error};
inline std::atomic<int> until_fault{-1};  // calls of armed_op before the fault; -1: none armed
inline std::atomic<bool> persistent{false};
inline std::atomic<int> faults_injected{0};
inline std::atomic<int> op_calls[3] = {};  // calls per op since the last reset_counts()

inline void fail(op which, int nth, bool keep_failing = false, kind k = kind::io_error) {
  armed_op = which;
  armed_kind = k;
  persistent = keep_failing;
  until_fault = nth;
}
inline void fail_sync(int nth, bool keep_failing = false) { fail(op::sync, nth, keep_failing); }
inline void disarm() {
  until_fault = -1;
  persistent = false;
}
inline void reset_counts() {
  for (auto& c : op_calls) c = 0;
}
inline int calls(op which) { return op_calls[static_cast<int>(which)]; }

// The error an operation returns when its fault fires.
inline int fault_code(op which) {
  if (armed_kind == kind::disk_full) return SQLITE_FULL;
  switch (which) {
    case op::write: return SQLITE_IOERR_WRITE;
    case op::sync: return SQLITE_IOERR_FSYNC;
    case op::truncate: return SQLITE_IOERR_TRUNCATE;
  }
  return SQLITE_IOERR;
}

// Counts the call; returns the error to inject, or SQLITE_OK to go on.
inline int maybe_fail(op which) {
  ++op_calls[static_cast<int>(which)];
  if (armed_op != which) return SQLITE_OK;
  const int left = until_fault.load();
  if (left < 0) return SQLITE_OK;
  if (left == 0) {
    if (!persistent) until_fault = -1;
    ++faults_injected;
    return fault_code(which);
  }
  until_fault = left - 1;
  return SQLITE_OK;
}

struct file {
  sqlite3_file base;
  sqlite3_file* real;
};

inline sqlite3_file* real_of(sqlite3_file* f) { return reinterpret_cast<file*>(f)->real; }

inline int x_close(sqlite3_file* f) {
  sqlite3_file* r = real_of(f);
  const int rc = r->pMethods ? r->pMethods->xClose(r) : SQLITE_OK;
  return rc;
}
inline int x_read(sqlite3_file* f, void* b, int n, sqlite3_int64 o) {
  return real_of(f)->pMethods->xRead(real_of(f), b, n, o);
}
inline int x_write(sqlite3_file* f, const void* b, int n, sqlite3_int64 o) {
  if (const int rc = maybe_fail(op::write)) return rc;
  return real_of(f)->pMethods->xWrite(real_of(f), b, n, o);
}
inline int x_truncate(sqlite3_file* f, sqlite3_int64 s) {
  if (const int rc = maybe_fail(op::truncate)) return rc;
  return real_of(f)->pMethods->xTruncate(real_of(f), s);
}
inline int x_sync(sqlite3_file* f, int flags) {
  if (const int rc = maybe_fail(op::sync)) return rc;
  return real_of(f)->pMethods->xSync(real_of(f), flags);
}
inline int x_file_size(sqlite3_file* f, sqlite3_int64* s) {
  return real_of(f)->pMethods->xFileSize(real_of(f), s);
}
inline int x_lock(sqlite3_file* f, int l) { return real_of(f)->pMethods->xLock(real_of(f), l); }
inline int x_unlock(sqlite3_file* f, int l) { return real_of(f)->pMethods->xUnlock(real_of(f), l); }
inline int x_check_reserved(sqlite3_file* f, int* r) {
  return real_of(f)->pMethods->xCheckReservedLock(real_of(f), r);
}
inline int x_file_control(sqlite3_file* f, int op, void* a) {
  return real_of(f)->pMethods->xFileControl(real_of(f), op, a);
}
inline int x_sector_size(sqlite3_file* f) { return real_of(f)->pMethods->xSectorSize(real_of(f)); }
inline int x_device_chars(sqlite3_file* f) {
  return real_of(f)->pMethods->xDeviceCharacteristics(real_of(f));
}
inline int x_shm_map(sqlite3_file* f, int i, int sz, int e, void volatile** p) {
  return real_of(f)->pMethods->xShmMap(real_of(f), i, sz, e, p);
}
inline int x_shm_lock(sqlite3_file* f, int o, int n, int fl) {
  return real_of(f)->pMethods->xShmLock(real_of(f), o, n, fl);
}
inline void x_shm_barrier(sqlite3_file* f) { real_of(f)->pMethods->xShmBarrier(real_of(f)); }
inline int x_shm_unmap(sqlite3_file* f, int d) {
  return real_of(f)->pMethods->xShmUnmap(real_of(f), d);
}
inline int x_fetch(sqlite3_file* f, sqlite3_int64 o, int n, void** p) {
  return real_of(f)->pMethods->xFetch(real_of(f), o, n, p);
}
inline int x_unfetch(sqlite3_file* f, sqlite3_int64 o, void* p) {
  return real_of(f)->pMethods->xUnfetch(real_of(f), o, p);
}

inline const sqlite3_io_methods io_methods = {3,
                                              x_close,
                                              x_read,
                                              x_write,
                                              x_truncate,
                                              x_sync,
                                              x_file_size,
                                              x_lock,
                                              x_unlock,
                                              x_check_reserved,
                                              x_file_control,
                                              x_sector_size,
                                              x_device_chars,
                                              x_shm_map,
                                              x_shm_lock,
                                              x_shm_barrier,
                                              x_shm_unmap,
                                              x_fetch,
                                              x_unfetch};

inline int x_open(sqlite3_vfs*, sqlite3_filename name, sqlite3_file* f, int flags, int* out) {
  auto* wrapped = reinterpret_cast<file*>(f);
  wrapped->real = reinterpret_cast<sqlite3_file*>(wrapped + 1);
  std::memset(wrapped->real, 0, static_cast<std::size_t>(real_vfs->szOsFile));
  const int rc = real_vfs->xOpen(real_vfs, name, wrapped->real, flags, out);
  wrapped->base.pMethods = wrapped->real->pMethods ? &io_methods : nullptr;
  return rc;
}
inline int x_delete(sqlite3_vfs*, const char* n, int d) {
  return real_vfs->xDelete(real_vfs, n, d);
}
inline int x_access(sqlite3_vfs*, const char* n, int f, int* r) {
  return real_vfs->xAccess(real_vfs, n, f, r);
}
inline int x_full_pathname(sqlite3_vfs*, const char* n, int sz, char* out) {
  return real_vfs->xFullPathname(real_vfs, n, sz, out);
}
inline void* x_dl_open(sqlite3_vfs*, const char* n) { return real_vfs->xDlOpen(real_vfs, n); }
inline void x_dl_error(sqlite3_vfs*, int n, char* m) { real_vfs->xDlError(real_vfs, n, m); }
inline void (*x_dl_sym(sqlite3_vfs*, void* h, const char* s))(void) {
  return real_vfs->xDlSym(real_vfs, h, s);
}
inline void x_dl_close(sqlite3_vfs*, void* h) { real_vfs->xDlClose(real_vfs, h); }
inline int x_randomness(sqlite3_vfs*, int n, char* out) {
  return real_vfs->xRandomness(real_vfs, n, out);
}
inline int x_sleep(sqlite3_vfs*, int us) { return real_vfs->xSleep(real_vfs, us); }
inline int x_current_time(sqlite3_vfs*, double* t) { return real_vfs->xCurrentTime(real_vfs, t); }
inline int x_last_error(sqlite3_vfs*, int n, char* m) {
  return real_vfs->xGetLastError(real_vfs, n, m);
}
inline int x_current_time64(sqlite3_vfs*, sqlite3_int64* t) {
  return real_vfs->xCurrentTimeInt64(real_vfs, t);
}

inline sqlite3_vfs vfs{};

/// Registers the VFS (once) under the name "kakehashi-fault".
inline void install() {
  if (real_vfs) return;
  real_vfs = sqlite3_vfs_find(nullptr);
  vfs.iVersion = 2;
  vfs.szOsFile = static_cast<int>(sizeof(file)) + real_vfs->szOsFile;
  vfs.mxPathname = real_vfs->mxPathname;
  vfs.zName = "kakehashi-fault";
  vfs.xOpen = x_open;
  vfs.xDelete = x_delete;
  vfs.xAccess = x_access;
  vfs.xFullPathname = x_full_pathname;
  vfs.xDlOpen = x_dl_open;
  vfs.xDlError = x_dl_error;
  vfs.xDlSym = x_dl_sym;
  vfs.xDlClose = x_dl_close;
  vfs.xRandomness = x_randomness;
  vfs.xSleep = x_sleep;
  vfs.xCurrentTime = x_current_time;
  vfs.xGetLastError = x_last_error;
  vfs.xCurrentTimeInt64 = x_current_time64;
  sqlite3_vfs_register(&vfs, 0);
}

}  // namespace kakehashi::test::fault_vfs
