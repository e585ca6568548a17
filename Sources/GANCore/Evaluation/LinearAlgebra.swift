import RealModule

/// The small dense linear algebra the Fréchet distance needs, in Double on the host.
enum SymmetricEigen {
    /// Eigenvalues and eigenvectors of the symmetric n×n `matrix` (row-major), by cyclic
    /// Jacobi rotations: accurate to the last bits for the covariances of a few hundred
    /// features. Eigenvector i is column i of `vectors`.
    static func decompose(_ matrix: [Double], n: Int) -> (values: [Double], vectors: [Double]) {
        var a = matrix
        var v = [Double](repeating: 0, count: n * n)
        for i in 0..<n { v[i * n + i] = 1 }
        for _ in 0..<100 {
            var off = 0.0, total = 0.0
            for i in 0..<n {
                for j in 0..<n {
                    let x = a[i * n + j] * a[i * n + j]
                    total += x
                    if i != j { off += x }
                }
            }
            if off <= 1e-30 * max(total, 1e-300) { break }
            for p in 0..<(n - 1) {
                for q in (p + 1)..<n {
                    let apq = a[p * n + q]
                    if apq == 0 { continue }
                    let app = a[p * n + p], aqq = a[q * n + q]
                    let theta = (aqq - app) / (2 * apq)
                    let t = (theta >= 0 ? 1.0 : -1.0) / (abs(theta) + (theta * theta + 1).squareRoot())
                    let c = 1 / (t * t + 1).squareRoot(), s = t * c
                    for k in 0..<n {
                        let akp = a[k * n + p], akq = a[k * n + q]
                        a[k * n + p] = c * akp - s * akq
                        a[k * n + q] = s * akp + c * akq
                    }
                    for k in 0..<n {
                        let apk = a[p * n + k], aqk = a[q * n + k]
                        a[p * n + k] = c * apk - s * aqk
                        a[q * n + k] = s * apk + c * aqk
                    }
                    for k in 0..<n {
                        let vkp = v[k * n + p], vkq = v[k * n + q]
                        v[k * n + p] = c * vkp - s * vkq
                        v[k * n + q] = s * vkp + c * vkq
                    }
                }
            }
        }
        return ((0..<n).map { a[$0 * n + $0] }, v)
    }

    /// The symmetric square root of a symmetric positive semi-definite matrix
    /// (negative eigenvalues from rounding are taken as 0).
    static func squareRoot(_ matrix: [Double], n: Int) -> [Double] {
        let (values, vectors) = decompose(matrix, n: n)
        let roots = values.map { $0 > 0 ? $0.squareRoot() : 0 }
        var result = [Double](repeating: 0, count: n * n)
        for i in 0..<n {
            for j in 0..<n {
                var sum = 0.0
                for k in 0..<n { sum += vectors[i * n + k] * roots[k] * vectors[j * n + k] }
                result[i * n + j] = sum
            }
        }
        return result
    }

    /// a·b for n×n matrices.
    static func multiply(_ a: [Double], _ b: [Double], n: Int) -> [Double] {
        var c = [Double](repeating: 0, count: n * n)
        for i in 0..<n {
            for k in 0..<n {
                let x = a[i * n + k]
                if x == 0 { continue }
                for j in 0..<n { c[i * n + j] += x * b[k * n + j] }
            }
        }
        return c
    }
}
