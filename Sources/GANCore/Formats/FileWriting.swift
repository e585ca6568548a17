import Foundation

/// Writes `bytes` to `path` so that `path` holds either its old contents or all of the
/// new ones, never a part: a temporary file beside it is written, flushed to disk with
/// fsync, renamed over `path`, and the directory is synced so the rename is durable.
public func writeAtomically(_ bytes: [UInt8], to path: String) throws {
    let temporary = path + ".tmp-\(getpid())"
    let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    guard fd >= 0 else { throw GANError("cannot write \(temporary): \(String(cString: strerror(errno)))") }
    var written = 0
    let ok = bytes.withUnsafeBytes { raw -> Bool in
        while written < raw.count {
            let n = write(fd, raw.baseAddress! + written, raw.count - written)
            if n <= 0 { return false }
            written += n
        }
        return fsync(fd) == 0
    }
    let reason = String(cString: strerror(errno))
    close(fd)
    guard ok else {
        unlink(temporary)
        throw GANError("cannot write \(path): \(reason)")
    }
    guard rename(temporary, path) == 0 else {
        let reason = String(cString: strerror(errno))
        unlink(temporary)
        throw GANError("cannot rename \(temporary) to \(path): \(reason)")
    }
    let directory = (path as NSString).deletingLastPathComponent
    let dfd = open(directory.isEmpty ? "." : directory, O_RDONLY)
    if dfd >= 0 {
        fsync(dfd)
        close(dfd)
    }
}
