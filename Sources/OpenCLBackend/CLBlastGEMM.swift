import COpenCL
#if canImport(Glibc)
import Glibc
#endif

/// CLBlast's SGEMM (the tuned OpenCL BLAS), loaded at run time from libclblast.so.1 so
/// that gan-cl neither links nor needs it. `gan-cl bench gemm` runs it on the backend's
/// own queue and buffers, beside gan-cl's kernel.
public final class CLBlastGEMM {
    private typealias Sgemm = @convention(c) (
        Int32, Int32, Int32, Int, Int, Int, Float, cl_mem?, Int, Int, cl_mem?, Int, Int, Float, cl_mem?, Int, Int,
        UnsafeMutablePointer<cl_command_queue?>?, UnsafeMutablePointer<cl_event?>?
    ) -> Int32

    private let sgemm: Sgemm
    /// The library file that was loaded.
    public let library: String

    // CLBlast's C enums (clblast_c.h).
    private static let rowMajor: Int32 = 101
    private static let noTranspose: Int32 = 111
    private static let transpose: Int32 = 112

    /// Loads CLBlast; nil when it is not installed (`apt-get install libclblast-dev`).
    public init?() {
        for name in ["libclblast.so.1", "libclblast.so"] {
            guard let handle = dlopen(name, RTLD_NOW), let symbol = dlsym(handle, "CLBlastSgemm") else { continue }
            sgemm = unsafeBitCast(symbol, to: Sgemm.self)
            library = name
            return
        }
        return nil
    }

    /// C = alpha·op(A)·op(B) + beta·C with row-major buffers, as `ComputeBackend.gemm`.
    public func gemm(
        on backend: OpenCLBackend, transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int,
        alpha: Float, a: OpenCLBuffer, b: OpenCLBuffer, beta: Float, c: OpenCLBuffer
    ) throws {
        var queue: cl_command_queue? = backend.queue
        let status = sgemm(
            Self.rowMajor, transposeA ? Self.transpose : Self.noTranspose, transposeB ? Self.transpose : Self.noTranspose,
            m, n, k, alpha, a.memory, 0, transposeA ? m : k, b.memory, 0, transposeB ? k : n, beta, c.memory, 0, n,
            &queue, nil)
        guard status == 0 else { throw OpenCLError.call("CLBlastSgemm", status) }
    }
}
