// errno names for Linux (asm-generic/errno-base.h and errno.h), for the outcomes of the actions the
// agent performs (a kill that failed, a file that could not be opened for hashing).

private let errnoNameTable: [StaticString] = [
    "0", "EPERM", "ENOENT", "ESRCH", "EINTR", "EIO", "ENXIO", "E2BIG", "ENOEXEC", "EBADF", "ECHILD",
    "EAGAIN", "ENOMEM", "EACCES", "EFAULT", "ENOTBLK", "EBUSY", "EEXIST", "EXDEV", "ENODEV", "ENOTDIR",
    "EISDIR", "EINVAL", "ENFILE", "EMFILE", "ENOTTY", "ETXTBSY", "EFBIG", "ENOSPC", "ESPIPE", "EROFS",
    "EMLINK", "EPIPE", "EDOM", "ERANGE", "EDEADLK", "ENAMETOOLONG", "ENOLCK", "ENOSYS", "ENOTEMPTY", "ELOOP",
]

/// `ENOENT` for 2; `ESTALE`, `EOVERFLOW` and a few others beyond the base table; `E<n>` otherwise.
public func errnoName(_ value: Int32) -> String {
    if value > 0, Int(value) < errnoNameTable.count { return errnoNameTable[Int(value)].description }
    switch value {
    case 61: return "ENODATA"
    case 75: return "EOVERFLOW"
    case 95: return "EOPNOTSUPP"
    case 110: return "ETIMEDOUT"
    case 116: return "ESTALE"
    case 121: return "EREMOTEIO"
    case 125: return "ECANCELED"
    default: return "E" + String(value)
    }
}
