import Dispatch

/// The CPU backend's float32 GEMM: op(B) packed into a contiguous k×n panel, then a
/// 4×16 register-blocked loop the compiler turns into vector FMAs, with row blocks
/// shared between the cores. Each output sums its k products in order, then applies
/// α and β. `CPUReference.gemm` is the plain loop it is tested against.
enum BlockedGEMM {
    static func gemm(
        transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int,
        alpha: Float, a: UnsafeBufferPointer<Float>, b: UnsafeBufferPointer<Float>,
        beta: Float, c: UnsafeMutableBufferPointer<Float>
    ) {
        guard m > 0, n > 0 else { return }
        // Row-major op(A) (m×k) and op(B) (k×n), copied only when stored transposed.
        let packedA = transposeA ? transpose(a, rows: k, columns: m) : nil
        let packedB = transposeB ? transpose(b, rows: n, columns: k) : nil
        defer { packedA?.deallocate(); packedB?.deallocate() }
        let operands = Operands(
            a: packedA.map { UnsafePointer($0.baseAddress!) } ?? a.baseAddress!,
            b: packedB.map { UnsafePointer($0.baseAddress!) } ?? b.baseAddress!,
            c: c.baseAddress!)
        let blocks = (m + 3) / 4
        let threads = m * n * k >= 1 << 20 ? min(2, blocks) : 1
        // Each thread writes its own rows of C.
        let run: @Sendable (Int) -> Void = { thread in
            var block = thread
            while block < blocks {
                let row = block * 4
                kernel(rows: min(4, m - row), n: n, k: k, alpha: alpha, beta: beta,
                       a: operands.a + row * k, b: operands.b, c: operands.c + row * n)
                block += threads
            }
        }
        if threads == 1 { run(0) } else { DispatchQueue.concurrentPerform(iterations: threads, execute: run) }
    }

    private struct Operands: @unchecked Sendable {
        let a: UnsafePointer<Float>
        let b: UnsafePointer<Float>
        let c: UnsafeMutablePointer<Float>
    }

    private static func transpose(_ x: UnsafeBufferPointer<Float>, rows: Int, columns: Int) -> UnsafeMutableBufferPointer<Float> {
        let t = UnsafeMutableBufferPointer<Float>.allocate(capacity: max(rows * columns, 1))
        for r in 0..<rows {
            for col in 0..<columns { t[col * rows + r] = x[r * columns + col] }
        }
        return t
    }

    /// C[0..<rows, :] (rows ≤ 4) from A's `rows` rows and all of B.
    @inline(__always)
    private static func kernel(
        rows: Int, n: Int, k: Int, alpha: Float, beta: Float,
        a: UnsafePointer<Float>, b: UnsafePointer<Float>, c: UnsafeMutablePointer<Float>
    ) {
        typealias V = SIMD16<Float>
        var j = 0
        while j + 16 <= n {
            var acc0 = V(), acc1 = V(), acc2 = V(), acc3 = V()
            let raw = UnsafeRawPointer(b + j)
            if rows == 4 {
                for p in 0..<k {
                    let bv = raw.loadUnaligned(fromByteOffset: p * n * 4, as: V.self)
                    acc0 += bv * a[p]
                    acc1 += bv * a[k + p]
                    acc2 += bv * a[2 * k + p]
                    acc3 += bv * a[3 * k + p]
                }
            } else {
                for p in 0..<k {
                    let bv = raw.loadUnaligned(fromByteOffset: p * n * 4, as: V.self)
                    acc0 += bv * a[p]
                    if rows > 1 { acc1 += bv * a[k + p] }
                    if rows > 2 { acc2 += bv * a[2 * k + p] }
                }
            }
            for (r, sum) in [acc0, acc1, acc2, acc3].prefix(rows).enumerated() {
                let target = UnsafeMutableRawPointer(c + r * n + j)
                var result = sum * alpha
                if beta != 0 { result += target.loadUnaligned(as: V.self) * beta }
                target.storeBytes(of: result, as: V.self)
            }
            j += 16
        }
        // Columns past the last full vector.
        while j < n {
            for r in 0..<rows {
                var sum: Float = 0
                for p in 0..<k { sum.addProduct(a[r * k + p], b[p * n + j]) }
                c[r * n + j] = beta == 0 ? alpha * sum : alpha * sum + beta * c[r * n + j]
            }
            j += 1
        }
    }
}
