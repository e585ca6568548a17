import COpenCL
import ComputeBackend
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

    private typealias Sconvgemm = @convention(c) (
        Int32, Int, Int, Int, Int, Int, Int, Int, Int, Int, Int, Int, Int, Int, cl_mem?, Int, cl_mem?, Int, cl_mem?, Int,
        UnsafeMutablePointer<cl_command_queue?>?, UnsafeMutablePointer<cl_event?>?
    ) -> Int32

    private let sgemm: Sgemm
    private let sconvgemm: Sconvgemm?
    /// The library file that was loaded.
    public let library: String

    // CLBlast's C enums (clblast_c.h).
    private static let rowMajor: Int32 = 101
    private static let noTranspose: Int32 = 111
    private static let transpose: Int32 = 112
    private static let crossCorrelation: Int32 = 151

    /// Loads CLBlast; nil when it is not installed (`apt-get install libclblast-dev`).
    public init?() {
        for name in ["libclblast.so.1", "libclblast.so"] {
            guard let handle = dlopen(name, RTLD_NOW), let symbol = dlsym(handle, "CLBlastSgemm") else { continue }
            sgemm = unsafeBitCast(symbol, to: Sgemm.self)
            sconvgemm = dlsym(handle, "CLBlastSconvgemm").map { unsafeBitCast($0, to: Sconvgemm.self) }
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

    /// Whether this CLBlast has Convgemm (from version 1.5).
    public var hasConvgemm: Bool { sconvgemm != nil }

    /// CLBlast's Convgemm: a convolution's forward (cross-correlation, as gan-cl's) over
    /// NCHW images x (batch, channels, height, width), kernels (outputs, channels, k, k),
    /// into y (batch, outputs, OH, OW). CLBlast's own layout, not gan-cl's NHWC: for
    /// timing beside `conv_rows` and im2col + GEMM on the same geometry.
    public func convgemm(
        on backend: OpenCLBackend, geometry g: ConvolutionGeometry, outputChannels: Int,
        x: OpenCLBuffer, kernels: OpenCLBuffer, y: OpenCLBuffer
    ) throws {
        guard let sconvgemm else { throw OpenCLError.call("CLBlastSconvgemm (not in this CLBlast)", -1) }
        var queue: cl_command_queue? = backend.queue
        let status = sconvgemm(
            Self.crossCorrelation, g.channels, g.height, g.width, g.kernel, g.kernel, g.padding, g.padding, g.stride,
            g.stride, 1, 1, outputChannels, g.batch, x.memory, 0, kernels.memory, 0, y.memory, 0, &queue, nil)
        guard status == 0 else { throw OpenCLError.call("CLBlastSconvgemm", status) }
    }
}
