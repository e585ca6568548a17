#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The OpenCL C source of one kernel family (one file of Kernels/).
///
/// Sources are embedded in the binary at build time, so an installed `gan-cl` is one
/// file. Setting `GANCL_KERNELS_DIR` to a folder of .cl files reads them from there
/// instead, so kernel work needs no rebuild of the Swift code.
enum KernelSource {
    static let directoryVariable = "GANCL_KERNELS_DIR"

    static func text(of family: String) throws -> String {
        if let directory = getenv(directoryVariable).map({ String(cString: $0) }), !directory.isEmpty {
            return try readFile("\(directory)/\(family).cl", family: family)
        }
        guard let bytes = embedded[family] else { throw OpenCLError.missingKernelSource(family) }
        return String(decoding: bytes, as: UTF8.self)
    }

    private static let embedded: [String: [UInt8]] = [
        "gemm": PackageResources.gemm_cl,
        "elementwise": PackageResources.elementwise_cl,
        "reduce": PackageResources.reduce_cl,
        "loss": PackageResources.loss_cl,
        "optim": PackageResources.optim_cl,
        "random": PackageResources.random_cl,
    ]

    private static func readFile(_ path: String, family: String) throws -> String {
        guard let file = fopen(path, "rb") else { throw OpenCLError.missingKernelSource("\(path) (for \(family))") }
        defer { fclose(file) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = fread(&chunk, 1, chunk.count, file)
            if n <= 0 { break }
            bytes.append(contentsOf: chunk[0..<n])
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
