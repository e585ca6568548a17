/// The GEMM kernel's tile shape (see the header of Kernels/gemm.cl).
public struct GEMMTunables: Equatable, Sendable, CustomStringConvertible {
    public var tileM: Int
    public var tileN: Int
    public var tileK: Int
    public var workPerThreadM: Int
    public var workPerThreadN: Int

    public init(tileM: Int, tileN: Int, tileK: Int, workPerThreadM: Int, workPerThreadN: Int) {
        self.tileM = tileM
        self.tileN = tileN
        self.tileK = tileK
        self.workPerThreadM = workPerThreadM
        self.workPerThreadN = workPerThreadN
    }

    /// Work-items per work-group.
    public var threads: Int { (tileM / workPerThreadM) * (tileN / workPerThreadN) }

    var buildOptions: String {
        "-D TILE_M=\(tileM) -D TILE_N=\(tileN) -D TILE_K=\(tileK) -D WPT_M=\(workPerThreadM) -D WPT_N=\(workPerThreadN)"
    }

    public var description: String {
        "\(tileM)x\(tileN)x\(tileK) tiles, \(workPerThreadM)x\(workPerThreadN) per work-item"
    }
}

/// The `-D` values the kernels are built with on one device. As in CLBlast, the choice
/// goes by vendor, then device name, falling back to a default that fits any device.
public struct OpenCLTunables: Equatable, Sendable {
    public var gemm: GEMMTunables
    /// Work-group size of the tree reductions; a power of two.
    public var reduceWorkGroup: Int

    public static let fallback = OpenCLTunables(
        gemm: GEMMTunables(tileM: 32, tileN: 32, tileK: 16, workPerThreadM: 4, workPerThreadN: 4),
        reduceWorkGroup: 64)

    /// The built-in choice for `device`.
    public static func defaults(for device: OpenCLDevice) -> OpenCLTunables {
        var chosen = fallback
        let vendor = device.vendor.lowercased()
        if device.isGPU {
            // 256 work-items each holding a 4x4 block: the classic GPU shape, which also
            // suits NVIDIA's 32-wide warps (rows of 16 threads read 64 contiguous floats).
            chosen.gemm = GEMMTunables(tileM: 64, tileN: 64, tileK: 16, workPerThreadM: 4, workPerThreadN: 4)
            chosen.reduceWorkGroup = 256
        } else if device.platformName.lowercased().contains("portable computing language") || vendor.contains("pocl") {
            // PoCL runs a work-group's items as loops on one core: fewer, larger
            // work-items keep more of a tile in registers.
            chosen.gemm = GEMMTunables(tileM: 64, tileN: 64, tileK: 16, workPerThreadM: 8, workPerThreadN: 8)
            chosen.reduceWorkGroup = 64
        }
        return chosen.fitted(to: device)
    }

    /// The same choice, shrunk where `device` allows fewer work-items per group.
    func fitted(to device: OpenCLDevice) -> OpenCLTunables {
        var result = self
        if result.gemm.threads > device.maxWorkGroupSize { result.gemm = Self.fallback.gemm }
        while result.reduceWorkGroup > device.maxWorkGroupSize { result.reduceWorkGroup /= 2 }
        return result
    }
}
