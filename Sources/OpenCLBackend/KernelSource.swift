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

    /// Files put before a family's own (OpenCL C has no #include for program sources):
    /// adam.cl's Adam step serves both the optimiser kernels and GEMM's Adam epilogue;
    /// activation.cl's maths serves GEMM's epilogues, the pointwise kernels, the losses and
    /// batch and layer normalisation.
    static let preludes: [String: [String]] = [
        "gemm": ["activation", "adam"], "elementwise": ["activation"], "loss": ["activation"], "optim": ["adam"],
        "conv": ["activation"], "reduce": ["activation"],
    ]

    /// The family's program source: its preludes, then its own file.
    static func text(of family: String) throws -> String {
        try ((preludes[family] ?? []) + [family]).map { try file($0, for: family) }.joined(separator: "\n")
    }

    private static func file(_ name: String, for family: String) throws -> String {
        if let directory = getenv(directoryVariable).map({ String(cString: $0) }), !directory.isEmpty {
            return try readFile("\(directory)/\(name).cl", family: family)
        }
        guard let bytes = embedded[name] else { throw OpenCLError.missingKernelSource(name) }
        return String(decoding: bytes, as: UTF8.self)
    }

    private static let embedded: [String: [UInt8]] = [
        "gemm": PackageResources.gemm_cl,
        "elementwise": PackageResources.elementwise_cl,
        "reduce": PackageResources.reduce_cl,
        "loss": PackageResources.loss_cl,
        "optim": PackageResources.optim_cl,
        "adam": PackageResources.adam_cl,
        "random": PackageResources.random_cl,
        "activation": PackageResources.activation_cl,
        "conv": PackageResources.conv_cl,
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
