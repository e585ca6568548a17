import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// SIGINT and SIGTERM during training: the handler only records the signal, and the
/// training loop finishes its step, writes a checkpoint and stops. A second signal
/// acts at once (the handler restores the default disposition when it first runs);
/// the checkpoint on disk is complete either way, since it is written atomically.
public enum Interruption {
    private static let received = Atomic<Int32>(0)

    /// Installs the handlers for SIGINT and SIGTERM, and unblocks both on this thread:
    /// a process inherits its parent's signal mask, and a launcher that blocks them
    /// (some test runners and job systems do) would otherwise make them never arrive.
    public static func install() {
        var set = sigset_t()
        sigemptyset(&set)
        for s in [SIGINT, SIGTERM] {
            signal(s) { number in
                Interruption.received.store(number, ordering: .relaxed)
                signal(number, SIG_DFL)
            }
            sigaddset(&set, s)
        }
        pthread_sigmask(SIG_UNBLOCK, &set, nil)
    }

    /// The signal received since `install`, if any.
    public static var pending: Int32? {
        let s = received.load(ordering: .relaxed)
        return s == 0 ? nil : s
    }
}

/// Training stopped by a signal after writing a checkpoint.
public struct TrainingInterrupted: Error, CustomStringConvertible {
    public let signal: Int32
    public let step: Int
    /// The checkpoint written at the interruption; nil if writing it failed.
    public let checkpoint: String?
    public let runDirectory: String

    /// 128 + the signal number: 130 for SIGINT, 143 for SIGTERM.
    public var exitCode: Int32 { 128 + signal }

    public var description: String {
        let name = signal == SIGINT ? "SIGINT" : signal == SIGTERM ? "SIGTERM" : "signal \(signal)"
        let written = checkpoint.map { "checkpoint \($0) written" } ?? "its checkpoint could not be written"
        return "interrupted by \(name) at step \(step); \(written); resume with: gan-cl train --resume \(runDirectory)"
    }
}
