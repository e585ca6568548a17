import Dispatch

/// The CPU backend's float32 GEMM: a 4×16 register-blocked loop the compiler turns into
/// vector FMAs, with row blocks shared between the cores. op(A) is read in place (a
/// transposed A only changes its strides); a transposed B is first copied out as a
/// contiguous k×n panel into `scratch`, which grows to the largest B and is kept, so a
/// training step allocates nothing. Each output sums its k products in order, then
/// applies α and β. `CPUReference.gemm` is the plain loop it is tested against.
enum BlockedGEMM {
    static func gemm(
        transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int,
        alpha: Float, a: UnsafeBufferPointer<Float>, b: UnsafeBufferPointer<Float>,
        beta: Float, c: UnsafeMutableBufferPointer<Float>, scratch: inout UnsafeMutableBufferPointer<Float>
    ) {
        guard m > 0, n > 0 else { return }
        var panel = b.baseAddress!
        if transposeB {
            if scratch.count < n * k {
                scratch.deallocate()
                scratch = .allocate(capacity: n * k)
            }
            for r in 0..<n {
                for col in 0..<k { scratch[col * n + r] = b[r * k + col] }
            }
            panel = UnsafePointer(scratch.baseAddress!)
        }
        // op(A)[r][p] = a[r * rowStride + p * pStride]
        let rowStride = transposeA ? 1 : k, pStride = transposeA ? m : 1
        let operands = Operands(a: a.baseAddress!, b: panel, c: c.baseAddress!)
        let blocks = (m + 3) / 4
        let threads = m * n * k >= 1 << 20 ? min(2, blocks) : 1
        // Each thread writes its own rows of C.
        let run: @Sendable (Int) -> Void = { thread in
            var block = thread
            while block < blocks {
                let row = block * 4
                kernel(rows: min(4, m - row), n: n, k: k, alpha: alpha, beta: beta,
                       a: operands.a + row * rowStride, rowStride: rowStride, pStride: pStride,
                       b: operands.b, c: operands.c + row * n)
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

    /// C[0..<rows, :] (rows ≤ 4) from op(A)'s `rows` rows starting at `a` and all of B.
    @inline(__always)
    private static func kernel(
        rows: Int, n: Int, k: Int, alpha: Float, beta: Float,
        a: UnsafePointer<Float>, rowStride: Int, pStride: Int, b: UnsafePointer<Float>, c: UnsafeMutablePointer<Float>
    ) {
        let (r1, r2, r3) = (rowStride, 2 * rowStride, 3 * rowStride)
        typealias V = SIMD16<Float>
        var j = 0
        while j + 16 <= n {
            var acc0 = V(), acc1 = V(), acc2 = V(), acc3 = V()
            let raw = UnsafeRawPointer(b + j)
            if rows == 4 {
                for p in 0..<k {
                    let bv = raw.loadUnaligned(fromByteOffset: p * n * 4, as: V.self)
                    let ap = p * pStride
                    acc0 += bv * a[ap]
                    acc1 += bv * a[r1 + ap]
                    acc2 += bv * a[r2 + ap]
                    acc3 += bv * a[r3 + ap]
                }
            } else {
                for p in 0..<k {
                    let bv = raw.loadUnaligned(fromByteOffset: p * n * 4, as: V.self)
                    let ap = p * pStride
                    acc0 += bv * a[ap]
                    if rows > 1 { acc1 += bv * a[r1 + ap] }
                    if rows > 2 { acc2 += bv * a[r2 + ap] }
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
                for p in 0..<k { sum.addProduct(a[r * rowStride + p * pStride], b[p * n + j]) }
                c[r * n + j] = beta == 0 ? alpha * sum : alpha * sum + beta * c[r * n + j]
            }
            j += 1
        }
    }
}
