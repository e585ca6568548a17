import ComputeBackend
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// OpenBLAS's `cblas_sgemm`, loaded at run time from libopenblas.so.0 (libopenblas-dev) so
/// that gan-cl neither links nor needs it: the limit `gan-cl bench gemm` prints beside a
/// CPU device's GEMM, on as many threads as the device has compute units.
final class OpenBLASGEMM {
    private typealias Sgemm = @convention(c) (
        Int32, Int32, Int32, Int32, Int32, Int32, Float, UnsafePointer<Float>?, Int32, UnsafePointer<Float>?, Int32,
        Float, UnsafeMutablePointer<Float>?, Int32
    ) -> Void
    private typealias SetThreads = @convention(c) (Int32) -> Void
    private typealias CoreName = @convention(c) () -> UnsafePointer<CChar>?

    private let sgemm: Sgemm
    /// The kernel family OpenBLAS runs (its core name, such as SkylakeX or Haswell).
    let core: String

    // CBLAS's enums.
    private static let rowMajor: Int32 = 101
    private static let noTranspose: Int32 = 111
    private static let transpose: Int32 = 112

    /// Loads OpenBLAS with `threads` threads; nil when it is not installed. OpenBLAS picks
    /// its kernels from the CPU's model number when it loads, and Debian 12's (0.3.21)
    /// takes the cores newer than it for a generic SSE3 one (it ran a 2-core Xeon with
    /// AVX-512 at a fifth of its speed): unless OPENBLAS_CORETYPE says otherwise, it is
    /// set from the instruction sets the CPU reports, so that the limit is OpenBLAS's best.
    init?(threads: Int) {
        if getenv("OPENBLAS_CORETYPE") == nil, let core = Self.coreType() { setenv("OPENBLAS_CORETYPE", core, 1) }
        for name in ["libopenblas.so.0", "libopenblas.so"] {
            guard let handle = dlopen(name, RTLD_NOW), let symbol = dlsym(handle, "cblas_sgemm") else { continue }
            sgemm = unsafeBitCast(symbol, to: Sgemm.self)
            if let set = dlsym(handle, "openblas_set_num_threads") {
                unsafeBitCast(set, to: SetThreads.self)(Int32(threads))
            }
            core = dlsym(handle, "openblas_get_corename")
                .flatMap { unsafeBitCast($0, to: CoreName.self)() }.map { String(cString: $0) } ?? "unknown core"
            return
        }
        return nil
    }

    /// OpenBLAS's core type for this CPU's vector instructions, from /proc/cpuinfo.
    private static func coreType() -> String? {
        guard let info = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
              let flagsLine = info.split(separator: "\n").first(where: { $0.hasPrefix("flags") })
        else { return nil }
        let flags = Set(flagsLine.split(separator: " ").map(String.init))
        if flags.contains("avx512f") && flags.contains("avx512bw") { return "SkylakeX" }
        if flags.contains("avx2") && flags.contains("fma") { return info.contains("AuthenticAMD") ? "Zen" : "Haswell" }
        return nil
    }

    /// Median GFLOP/s of `shape` after two warm-up runs, on the host's clock, random inputs.
    func gflops(_ shape: GEMMCase, seconds: Double) -> Double {
        var random = SplitMix64(seed: 42)
        func values(_ count: Int) -> [Float] { (0..<count).map { _ in random.unitFloat() * 2 - 1 } }
        let a = values(shape.m * shape.k), b = values(shape.k * shape.n)
        var c = values(shape.m * shape.n)
        return medianGFLOPS(shape, seconds: seconds) {
            let t0 = DispatchTime.now().uptimeNanoseconds
            gemm(transposeA: shape.transposeA, transposeB: shape.transposeB, m: shape.m, n: shape.n, k: shape.k, alpha: 1,
                 a: a, b: b, beta: 0, c: &c)
            return Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-9
        }
    }

    /// C = alpha·op(A)·op(B) + beta·C on row-major host arrays, as `ComputeBackend.gemm`.
    func gemm(
        transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, alpha: Float, a: [Float], b: [Float], beta: Float,
        c: inout [Float]
    ) {
        sgemm(
            Self.rowMajor, transposeA ? Self.transpose : Self.noTranspose, transposeB ? Self.transpose : Self.noTranspose,
            Int32(m), Int32(n), Int32(k), alpha, a, Int32(transposeA ? m : k), b, Int32(transposeB ? k : n), beta, &c, Int32(n))
    }
}
