// MARK: - Math that gives the same bits on every device

/// The logarithm, square root, sine and cosine behind Philox normals, written with
/// float32 multiplies, adds, explicit fused multiply-adds and bit operations only.
/// Those are correctly rounded in Swift and in OpenCL C alike, whereas OpenCL's `log`,
/// `sqrt`, `sin` and `cos` may differ from glibc's by a few ulp; so the same operations
/// in `Kernels/random.cl` (built with FP_CONTRACT OFF) give the same bits as these.
/// Accuracy is about 1e-7 absolute, ample for sampling noise.
public enum DeterministicMath {
    /// log(1 + f) / f on [-0.25, 0.5]: a degree-9 Chebyshev fit, float32 coefficients.
    static let logCoefficients: [Float] = [
        0x1p+0, -0x1p-1, 0x1.5555acp-2, -0x1.ffff86p-3, 0x1.99694cp-3,
        -0x1.550df4p-3, 0x1.28a64ep-3, -0x1.0c6d22p-3, 0x1.a6c85cp-4, -0x1.698df2p-5,
    ]
    static let ln2: Float = 0x1.62e43p-1
    /// sin((π/2)·t) / t as a polynomial in t², Taylor to t¹¹.
    static let sineCoefficients: [Float] = [
        0x1.921fb6p+0, -0x1.4abbcep-1, 0x1.466bc6p-4, -0x1.32d2ccp-8, 0x1.507834p-13, -0x1.e3075p-19,
    ]
    /// cos((π/2)·t) as a polynomial in t², Taylor to t¹².
    static let cosineCoefficients: [Float] = [
        0x1p+0, -0x1.3bd3ccp+0, 0x1.03c1fp-2, -0x1.55d3c8p-6, 0x1.e1f506p-11, -0x1.a6d1f2p-16, 0x1.f9d38ap-22,
    ]

    /// Horner's rule with a fused multiply-add at every step.
    @inline(__always)
    static func horner(_ coefficients: [Float], _ x: Float) -> Float {
        var p = coefficients[coefficients.count - 1]
        for i in stride(from: coefficients.count - 2, through: 0, by: -1) {
            p = coefficients[i].addingProduct(p, x)
        }
        return p
    }

    /// Natural logarithm of a positive normal float.
    public static func logarithm(_ x: Float) -> Float {
        let bits = x.bitPattern
        var exponent = Int32(bitPattern: bits >> 23) - 127
        var mantissa = Float(bitPattern: (bits & 0x007F_FFFF) | 0x3F80_0000)
        if mantissa > 1.5 {
            mantissa = mantissa * 0.5
            exponent += 1
        }
        let f = mantissa - 1
        return (f * horner(logCoefficients, f)).addingProduct(Float(exponent), ln2)
    }

    /// Square root of a non-negative float: a bit-trick estimate of 1/√x, three Newton
    /// steps, then one Newton correction of √x itself.
    public static func squareRoot(_ x: Float) -> Float {
        if x == 0 { return 0 }
        var y = Float(bitPattern: 0x5F37_59DF &- (x.bitPattern >> 1))
        let half = 0.5 * x
        for _ in 0..<3 {
            y = y * Float(1.5).addingProduct(-half, y * y)
        }
        let s = x * y
        return s.addingProduct(0.5 * y, x.addingProduct(-s, s))
    }

    /// (cos 2πu, sin 2πu) for u in [0, 1).
    public static func cosineSineOfTurn(_ u: Float) -> (Float, Float) {
        let scaled = 4 * u
        let quadrant = Int32(scaled)
        let t = scaled - Float(quadrant)
        let t2 = t * t
        let s = t * horner(sineCoefficients, t2)
        let c = horner(cosineCoefficients, t2)
        switch quadrant {
        case 0: return (c, s)
        case 1: return (-s, c)
        case 2: return (-c, -s)
        default: return (s, -c)
        }
    }
}
