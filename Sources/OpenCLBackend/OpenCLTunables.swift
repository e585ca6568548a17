#if canImport(Glibc)
import Glibc
#endif

/// The GEMM kernel's tile shape (see the header of Kernels/gemm.cl).
public struct GEMMTunables: Codable, Equatable, Sendable, CustomStringConvertible {
    public var tileM: Int
    public var tileN: Int
    public var tileK: Int
    public var workPerThreadM: Int
    public var workPerThreadN: Int
    /// The CPU kernel's block: rows of C per work-item, and float16 vectors per row.
    public var rowsPerItem: Int
    public var vectorsPerItem: Int
    /// The CPU kernel runs row blocks along dimension 0 (sharing a panel of B, streaming
    /// A) when B has more bytes than this, and column blocks (sharing rows of A,
    /// streaming B) otherwise. See gemm.cl's `order`.
    public var shareBAboveBytes = 8 << 20
    /// The CPU kernel's work-group: items along dimension 0 (1 or more), or 0 to let the
    /// runtime choose. Small groups share the work out evenly between the cores.
    public var itemsPerGroup = 0
    /// The CPU kernels multiply NT (B stored (n, k)) by dot products along k
    /// (`gemm_dot`) when k is at least this, and copy B out transposed for `gemm_rows`
    /// below it (where the dot products' final sums cost more than the copy).
    public var dotMinimumK = 256
    /// The CPU kernel multiplies TN (A stored (k, m)) with A first copied out as (m, k)
    /// when k is at least this: over a deep k, reading op(A)'s rows as columns of A strides
    /// through memory (4 KB apart for m = 1024, one cache set), while the copy costs m·k
    /// moves against the GEMM's m·n·k multiply-adds. The convolutions' weight gradients
    /// (k = batch × output positions) take it; the dense layers' (k = batch) do not.
    public var copyAMinimumK = 4096
    /// Row blocks (B above `shareBAboveBytes`) go through k in chunks whose panel of B
    /// (chunk × the block's columns) has at most this many bytes, so that it stays in the
    /// cache; 0: all of k at once.
    public var panelBytes = 0
    /// The tiled kernel's vector width (VW in gemm.cl): 1, or 4 for float4 loads from
    /// global and local memory with each work-item's rows and columns in runs of 4
    /// (needs WPT_M, WPT_N and TILE_K multiples of 4).
    public var vectorWidth = 1
    /// The packed kernel's blocks (gemm_packed in gemm.cl), for CPU devices.
    public var packed = PackedGEMMBlocks()
    /// CPU GEMMs of at least this many multiply-adds (m·n·k) take the packed kernel,
    /// smaller ones the direct kernels (gemm_rows, gemm_dot), where packing costs more
    /// than it saves. 0: every GEMM packed; Int.max: none.
    public var packedMinimumWork = Int.max
    /// Whether the packed kernel's fields came from a tuning-cache entry (false for an
    /// entry that an older gan-cl wrote without them: the built-in ones then stay).
    var hasPackedFields = true

    public init(
        tileM: Int, tileN: Int, tileK: Int, workPerThreadM: Int, workPerThreadN: Int, rowsPerItem: Int = 4,
        vectorsPerItem: Int = 1
    ) {
        self.tileM = tileM
        self.tileN = tileN
        self.tileK = tileK
        self.workPerThreadM = workPerThreadM
        self.workPerThreadN = workPerThreadN
        self.rowsPerItem = rowsPerItem
        self.vectorsPerItem = vectorsPerItem
    }

    private enum CodingKeys: String, CodingKey {
        case tileM, tileN, tileK, workPerThreadM, workPerThreadN, rowsPerItem, vectorsPerItem
        case shareBAboveBytes, itemsPerGroup, dotMinimumK, panelBytes, vectorWidth, copyAMinimumK
        case packed, packedMinimumWork
    }

    /// Reads an entry that an older gan-cl wrote: a field added since takes its default.
    public init(from decoder: Decoder) throws {
        let values = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            tileM: try values.decode(Int.self, forKey: .tileM), tileN: try values.decode(Int.self, forKey: .tileN),
            tileK: try values.decode(Int.self, forKey: .tileK),
            workPerThreadM: try values.decode(Int.self, forKey: .workPerThreadM),
            workPerThreadN: try values.decode(Int.self, forKey: .workPerThreadN),
            rowsPerItem: try values.decode(Int.self, forKey: .rowsPerItem),
            vectorsPerItem: try values.decode(Int.self, forKey: .vectorsPerItem))
        shareBAboveBytes = try values.decodeIfPresent(Int.self, forKey: .shareBAboveBytes) ?? shareBAboveBytes
        itemsPerGroup = try values.decodeIfPresent(Int.self, forKey: .itemsPerGroup) ?? itemsPerGroup
        dotMinimumK = try values.decodeIfPresent(Int.self, forKey: .dotMinimumK) ?? dotMinimumK
        copyAMinimumK = try values.decodeIfPresent(Int.self, forKey: .copyAMinimumK) ?? copyAMinimumK
        panelBytes = try values.decodeIfPresent(Int.self, forKey: .panelBytes) ?? panelBytes
        vectorWidth = try values.decodeIfPresent(Int.self, forKey: .vectorWidth) ?? vectorWidth
        packed = try values.decodeIfPresent(PackedGEMMBlocks.self, forKey: .packed) ?? packed
        packedMinimumWork = try values.decodeIfPresent(Int.self, forKey: .packedMinimumWork) ?? packedMinimumWork
        hasPackedFields = values.contains(.packed) && values.contains(.packedMinimumWork)
        guard packed.isValid else {
            throw DecodingError.dataCorrupted(.init(codingPath: [CodingKeys.packed], debugDescription: "packed blocks \(packed)"))
        }
        guard isValidVectorWidth else {
            throw DecodingError.dataCorrupted(.init(
                codingPath: [CodingKeys.vectorWidth],
                debugDescription: "vector width \(vectorWidth) with \(workPerThreadM)x\(workPerThreadN) per work-item and TILE_K \(tileK)"))
        }
    }

    /// The same with the tiled kernel's tile shape and vector width replaced; the CPU
    /// kernels' fields keep their values.
    public func withTiles(m: Int, n: Int, k: Int, perItemM: Int, perItemN: Int, vectorWidth: Int) -> GEMMTunables {
        var result = self
        (result.tileM, result.tileN, result.tileK) = (m, n, k)
        (result.workPerThreadM, result.workPerThreadN) = (perItemM, perItemN)
        result.vectorWidth = vectorWidth
        return result
    }

    /// The tiled kernel's local memory: its two tiles, whose rows gemm.cl pads by 4 floats
    /// with VW 4 (TILE_PAD).
    public var tiledLocalBytes: Int {
        let pad = vectorWidth == 1 ? 0 : 4
        return (tileM + tileN + 2 * pad) * tileK * MemoryLayout<Float>.stride
    }

    /// Whether `vectorWidth` is one the tiled kernel builds with for these tiles.
    public var isValidVectorWidth: Bool {
        vectorWidth == 1 || (vectorWidth == 4 && workPerThreadM % 4 == 0 && workPerThreadN % 4 == 0 && tileK % 4 == 0)
    }

    /// Work-items per work-group.
    public var threads: Int { (tileM / workPerThreadM) * (tileN / workPerThreadN) }

    var buildOptions: String {
        "-D TILE_M=\(tileM) -D TILE_N=\(tileN) -D TILE_K=\(tileK) -D WPT_M=\(workPerThreadM) -D WPT_N=\(workPerThreadN)"
            + " -D VW=\(vectorWidth) -D RB_M=\(rowsPerItem) -D RB_V=\(vectorsPerItem)"
    }

    public var description: String {
        "\(tileM)x\(tileN)x\(tileK) tiles, \(workPerThreadM)x\(workPerThreadN) per work-item"
            + (vectorWidth == 1 ? "" : ", float\(vectorWidth) loads") + "; CPU blocks \(rowsPerItem)x\(16 * vectorsPerItem)"
            + ", groups of \(itemsPerGroup == 0 ? "the runtime's size" : "\(itemsPerGroup)"), row blocks share B above \(shareBAboveBytes) bytes"
            + ", NT by dot products from k = \(dotMinimumK), TN copies A from k = \(copyAMinimumK)"
            + (panelBytes > 0 ? ", panels of B up to \(panelBytes) bytes" : "")
            + (packedMinimumWork == Int.max ? "" : "; packed \(packed) from \(packedMinimumWork) multiply-adds")
    }

    /// Whether a GEMM on a CPU device takes the packed kernel: every GEMM of at least
    /// `packedMinimumWork` multiply-adds when that is 0 (tests, experiments); otherwise
    /// those where the direct kernels are measured slower (benchmarks/README.md):
    /// NN with a B too large to stay cached (row blocks, `shareBAboveBytes`)
    /// whose rows lie a multiple of 2 KB apart (n a multiple of 512: the direct kernel's
    /// panels of B then fall into the same cache sets) or with m of 1024 and more; and TN
    /// over a deep k (the convolutions' weight gradients), where the direct kernel reads
    /// op(A)'s rows as columns of A. Never for fewer columns than the register tile's.
    public func usesPackedKernel(transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int) -> Bool {
        guard packedMinimumWork != Int.max else { return false }
        let (mn, o1) = m.multipliedReportingOverflow(by: n)
        let (work, o2) = mn.multipliedReportingOverflow(by: k)
        guard o1 || o2 || work >= packedMinimumWork else { return false }
        if packedMinimumWork == 0 { return true }
        guard n >= packed.columns else { return false }
        switch (transposeA, transposeB) {
        case (false, false):
            return k * n * MemoryLayout<Float>.stride > shareBAboveBytes && (n % 512 == 0 || m >= 1024)
        case (true, false):
            return k >= 1024
        default:
            return false
        }
    }
}

/// The packed GEMM's register tile and cache blocks: `rows` × 16·`vectors` of C held in
/// float16 registers (PK_MR, PK_NV), k in chunks of `depth` (PK_KC: a micro-panel of B,
/// depth × 16·vectors floats, stays in L1), and at most `maxRows` × `maxColumns` of C a
/// work-group (PK_MC: the packed block of A, maxRows × depth, stays in L2; PK_NC).
public struct PackedGEMMBlocks: Codable, Equatable, Sendable, CustomStringConvertible {
    public var rows = 12
    public var vectors = 2
    public var depth = 256
    public var maxRows = 96
    public var maxColumns = 512

    public init() {}

    public init(rows: Int, vectors: Int, depth: Int, maxRows: Int, maxColumns: Int) {
        (self.rows, self.vectors, self.depth, self.maxRows, self.maxColumns) = (rows, vectors, depth, maxRows, maxColumns)
    }

    /// Columns of C in the register tile.
    public var columns: Int { 16 * vectors }

    /// The kernel's local memory: the packed blocks of A and B, the partial sums and the
    /// column sums.
    public var localBytes: Int { (maxRows * depth + depth * maxColumns + maxRows * maxColumns + maxColumns) * 4 }

    var isValid: Bool {
        (1...32).contains(rows) && (1...4).contains(vectors) && depth > 0 && maxRows > 0 && maxColumns > 0
            && maxRows % rows == 0 && maxColumns % columns == 0
    }

    var buildOptions: String {
        "-D GEMM_PACKED -D PK_MR=\(rows) -D PK_NV=\(vectors) -D PK_KC=\(depth) -D PK_MC=\(maxRows) -D PK_NC=\(maxColumns)"
    }

    public var description: String { "\(rows)x\(columns) registers, k by \(depth), blocks up to \(maxRows)x\(maxColumns)" }
}

/// The `-D` values the kernels are built with on one device. As in CLBlast, the choice
/// goes by vendor, then device name, falling back to a default that fits any device.
public struct OpenCLTunables: Equatable, Sendable {
    public var gemm: GEMMTunables
    /// Work-group size of the tree reductions; a power of two.
    public var reduceWorkGroup: Int
    /// GEMM by the CPU kernels of gemm.cl (`gemm_rows`, with a transposed B copied out
    /// first) instead of the tiled kernel: for CPU devices. `GANCL_GEMM_CPU_KERNELS=1`
    /// or `0` overrides the choice (the oclgrind checks run both).
    public var cpuGEMM = false
    /// Where the GEMM choice came from: "built-in", or the tuning cache's entry.
    public var source = "built-in"

    public static let cpuKernelsVariable = "GANCL_GEMM_CPU_KERNELS"
    /// `GANCL_GEMM_ROWS=ROWS,VECTORS` overrides the CPU kernel's block (RB_M, RB_V).
    public static let rowBlockVariable = "GANCL_GEMM_ROWS"
    /// `GANCL_GEMM_GROUP=ITEMS` overrides `GEMMTunables.itemsPerGroup`.
    public static let groupVariable = "GANCL_GEMM_GROUP"
    /// `GANCL_GEMM_SHARE_B_ABOVE=BYTES` overrides `GEMMTunables.shareBAboveBytes`.
    public static let shareBVariable = "GANCL_GEMM_SHARE_B_ABOVE"
    /// `GANCL_GEMM_DOT_MIN_K=K` overrides `GEMMTunables.dotMinimumK` (0: every NT by
    /// dot products).
    public static let dotVariable = "GANCL_GEMM_DOT_MIN_K"
    /// `GANCL_GEMM_COPY_A_MIN_K=K` overrides `GEMMTunables.copyAMinimumK`.
    public static let copyAVariable = "GANCL_GEMM_COPY_A_MIN_K"
    /// `GANCL_GEMM_PANEL_BYTES=BYTES` overrides `GEMMTunables.panelBytes`.
    public static let panelVariable = "GANCL_GEMM_PANEL_BYTES"
    /// `GANCL_GEMM_PACKED=MR,NV,KC,MC,NC[,MIN_WORK]` sets the packed kernel's blocks and
    /// sends every GEMM of at least MIN_WORK multiply-adds (default 0: all) through it on a
    /// CPU device; `GANCL_GEMM_PACKED=0` sends none.
    public static let packedVariable = "GANCL_GEMM_PACKED"

    public static let fallback = OpenCLTunables(
        gemm: GEMMTunables(tileM: 32, tileN: 32, tileK: 16, workPerThreadM: 4, workPerThreadN: 4),
        reduceWorkGroup: 64)

    /// `GANCL_GEMM_TUNABLES=TILE_M,TILE_N,TILE_K,WPT_M,WPT_N[,VW]` overrides the GEMM choice,
    /// for kernel work and tuning experiments.
    public static let gemmOverrideVariable = "GANCL_GEMM_TUNABLES"

    /// The choice for `device`: `gan-cl tune`'s entry for it in the tuning cache, else the
    /// built-in one, with the variables' overrides on top.
    public static func defaults(for device: OpenCLDevice) throws -> OpenCLTunables {
        var chosen = builtIn(for: device)
        if let entry = try TuningCache.entry(for: device) {
            let builtInGEMM = chosen.gemm
            chosen.gemm = entry.gemm
            if !entry.gemm.hasPackedFields {
                (chosen.gemm.packed, chosen.gemm.packedMinimumWork) = (builtInGEMM.packed, builtInGEMM.packedMinimumWork)
            }
            chosen.cpuGEMM = entry.cpuKernels
            chosen.source = "tuned \(entry.date) (\(TuningCache.path))"
            chosen = chosen.fitted(to: device)
        }
        if let text = getenv(rowBlockVariable).map({ String(cString: $0) }), !text.isEmpty {
            let v = text.split(separator: ",").compactMap { Int($0) }
            guard v.count == 2, (1...16).contains(v[0]), (1...4).contains(v[1]) else {
                throw OpenCLError.badTunables("\(rowBlockVariable)=\(text): expected ROWS,VECTORS with ROWS in 1...16 and VECTORS in 1...4")
            }
            chosen.gemm.rowsPerItem = v[0]
            chosen.gemm.vectorsPerItem = v[1]
        }
        if let items = try integer(groupVariable, in: 0...1024, expected: "a work-group size in 0...1024 (0: the runtime's choice)") {
            chosen.gemm.itemsPerGroup = items
        }
        if let bytes = try integer(shareBVariable, in: 0...Int.max, expected: "a number of bytes") {
            chosen.gemm.shareBAboveBytes = bytes
        }
        if let k = try integer(dotVariable, in: 0...Int.max, expected: "a k of 0 or more") {
            chosen.gemm.dotMinimumK = k
        }
        if let k = try integer(copyAVariable, in: 0...Int.max, expected: "a k of 0 or more") {
            chosen.gemm.copyAMinimumK = k
        }
        if let bytes = try integer(panelVariable, in: 0...Int.max, expected: "a number of bytes (0: no chunks)") {
            chosen.gemm.panelBytes = bytes
        }
        if let text = getenv(packedVariable).map({ String(cString: $0) }), !text.isEmpty {
            if text == "0" {
                chosen.gemm.packedMinimumWork = Int.max
            } else {
                let parts = text.split(separator: ",", omittingEmptySubsequences: false)
                let v = parts.compactMap { Int($0) }
                let blocks = v.count >= 5 ? PackedGEMMBlocks(rows: v[0], vectors: v[1], depth: v[2], maxRows: v[3], maxColumns: v[4]) : nil
                guard v.count == parts.count, v.count == 5 || v.count == 6, let blocks, blocks.isValid, v.count == 5 || v[5] >= 0,
                      blocks.localBytes <= device.localMemoryBytes
                else {
                    throw OpenCLError.badTunables(
                        "\(packedVariable)=\(text): expected 0, or MR,NV,KC,MC,NC[,MIN_WORK] with MR in 1...32, NV in 1...4, MC a multiple of MR, NC of 16·NV, and local memory for the blocks within the device's \(device.localMemoryBytes) bytes")
                }
                chosen.gemm.packed = blocks
                chosen.gemm.packedMinimumWork = v.count == 6 ? v[5] : 0
            }
        }
        chosen.cpuGEMM = try cpuKernelsOverride() ?? chosen.cpuGEMM
        if let text = getenv(gemmOverrideVariable).map({ String(cString: $0) }), !text.isEmpty {
            let parts = text.split(separator: ",", omittingEmptySubsequences: false)
            let v = parts.compactMap { Int($0) }
            let expected = "expected TILE_M,TILE_N,TILE_K,WPT_M,WPT_N[,VW] with WPT_M dividing TILE_M, WPT_N dividing TILE_N, and VW 1 or 4 (4: WPT_M, WPT_N and TILE_K multiples of 4)"
            guard v.count == parts.count, v.count == 5 || v.count == 6, v.allSatisfy({ $0 > 0 }), v[0] % v[3] == 0, v[1] % v[4] == 0 else {
                throw OpenCLError.badTunables("\(gemmOverrideVariable)=\(text): \(expected)")
            }
            chosen.gemm = chosen.gemm.withTiles(
                m: v[0], n: v[1], k: v[2], perItemM: v[3], perItemN: v[4], vectorWidth: v.count == 6 ? v[5] : 1)
            guard chosen.gemm.isValidVectorWidth else {
                throw OpenCLError.badTunables("\(gemmOverrideVariable)=\(text): \(expected)")
            }
            guard chosen.gemm.threads <= device.maxWorkGroupSize else {
                throw OpenCLError.badTunables("\(gemmOverrideVariable)=\(text) needs \(chosen.gemm.threads) work-items per group; \(device.name) allows \(device.maxWorkGroupSize)")
            }
        }
        return chosen
    }

    /// The kernel family `GANCL_GEMM_CPU_KERNELS` asks for (true: the CPU kernels), nil
    /// when it is unset or empty.
    public static func cpuKernelsOverride() throws -> Bool? {
        guard let text = getenv(cpuKernelsVariable).map({ String(cString: $0) }), !text.isEmpty else { return nil }
        guard text == "0" || text == "1" else {
            throw OpenCLError.badTunables("\(cpuKernelsVariable)=\(text): expected 1 or 0")
        }
        return text == "1"
    }

    /// The integer `variable` holds, nil when it is unset or empty; anything else than an
    /// integer in `range` is a one-line error saying what was `expected`.
    private static func integer(_ variable: String, in range: ClosedRange<Int>, expected: String) throws -> Int? {
        guard let text = getenv(variable).map({ String(cString: $0) }), !text.isEmpty else { return nil }
        guard let value = Int(text), range.contains(value) else {
            throw OpenCLError.badTunables("\(variable)=\(text): expected \(expected)")
        }
        return value
    }

    /// The built-in choice for `device` (vendor, then device name), without cache or overrides.
    public static func builtIn(for device: OpenCLDevice) -> OpenCLTunables {
        var chosen = fallback
        if device.isGPU {
            // 256 work-items each holding a 4x4 block: the classic GPU shape, which also
            // suits NVIDIA's 32-wide warps (rows of 16 threads read 64 contiguous floats).
            chosen.gemm = GEMMTunables(tileM: 64, tileN: 64, tileK: 16, workPerThreadM: 4, workPerThreadN: 4)
            chosen.reduceWorkGroup = 256
        } else if device.isPoCL {
            // PoCL runs a work-group's items as loops on one core: fewer, larger
            // work-items keep more of a tile in registers. 64×128 tiles measured 1.5–2×
            // faster than 64×64 on the GAN's shapes (benchmarks/README.md, 2026-11-22).
            chosen.gemm = GEMMTunables(tileM: 64, tileN: 128, tileK: 16, workPerThreadM: 8, workPerThreadN: 8)
            chosen.reduceWorkGroup = 64
            // The CPU kernel's block: 4 rows × 64 columns (16 float16 accumulators). With
            // Adam inside the weight-gradient GEMMs it ran the training step 21 % faster
            // than 8 × 32 at batch 64 and level at 256 (medians of 6 rounds in turn): the
            // epilogue streams W and its moments along 4 rows of 256 bytes instead of 8
            // of 128 (benchmarks/README.md, 2026-11-23, third session).
            chosen.cpuGEMM = true
            chosen.gemm.rowsPerItem = 4
            chosen.gemm.vectorsPerItem = 4
            // Without AVX-512 (native vectors of 8 floats), a float16 takes two of the 16
            // ymm registers and 16 accumulators spill: 4 × 16 blocks ran the MLP step 21–34 %
            // faster at batch 64 and 33 % at 256 than 4 × 64 on an AVX2 EPYC, and the dcgan
            // step 6–18 % (interleaved rounds, benchmarks/README.md, 2026-11-29). Keyed by
            // the vector width the device reports, not by PoCL's name for the core.
            if device.nativeFloatVectorWidth < 16 { chosen.gemm.vectorsPerItem = 1 }
            // Work-groups of 4 items: the training step ran 2,820–2,883 / 3,920–4,038
            // images/s (batch 64 / 256) against 1,869–2,043 / 3,233–3,365 with the
            // runtime's groups. Row blocks along dimension 0 (each group shares panels of
            // B; A streams from L2) for a B above 1 MiB (the weights of the large layers);
            // for a smaller B, such as dz in a weight-gradient GEMM whose epilogue streams
            // W and Adam's moments, column blocks along dimension 0, so that consecutive
            // work-items walk rows of C left to right: +3–7 % on the step against row
            // blocks for every B (benchmarks/README.md).
            chosen.gemm.itemsPerGroup = 4
            chosen.gemm.shareBAboveBytes = 1 << 20
            // Row blocks go through k in chunks whose panel of B is at most 256 KiB (k =
            // 1024 for 64 columns, a quarter of a Zen 4 core's L2): 2048³ ran 125–159
            // GFLOP/s against 78–103 in one pass. 128 KiB ran 2048³ faster still (145–193)
            // but split the step's k = 1024 GEMMs too, 6 more launches a step for no
            // measurable gain (benchmarks/README.md, 2026-11-23, third session).
            chosen.gemm.panelBytes = 256 << 10
            // The packed kernel (BLIS's blocking) from 4M multiply-adds, where
            // `usesPackedKernel` takes it. Its register tile: 12 × 32 (24 zmm accumulators,
            // as BLIS's SkylakeX kernel) with AVX-512; 6 × 16 (12 ymm pairs, as BLIS's
            // Haswell kernel) with 8-float vectors.
            chosen.gemm.packedMinimumWork = 1 << 22
            if device.nativeFloatVectorWidth < 16 {
                chosen.gemm.packed = PackedGEMMBlocks(rows: 6, vectors: 1, depth: 256, maxRows: 96, maxColumns: 512)
            }
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
