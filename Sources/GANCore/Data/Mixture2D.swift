import ComputeBackend
import RealModule

/// A mixture of equally weighted isotropic 2-D Gaussians: the toy data on which mode
/// collapse is visible and countable (Metz et al. 2017, Srivastava et al. 2017,
/// Lin et al. 2018).
public struct Mixture2D: Equatable, Sendable {
    public let name: String
    /// The modes' means, (x, y).
    public let means: [(x: Double, y: Double)]
    /// Each mode's standard deviation along each axis.
    public let sigma: Double

    public static func == (a: Mixture2D, b: Mixture2D) -> Bool {
        a.name == b.name && a.sigma == b.sigma && a.means.elementsEqual(b.means) { $0.x == $1.x && $0.y == $1.y }
    }

    /// 8 modes evenly spaced on the unit circle, σ = 0.01.
    public static let ring8 = Mixture2D(
        name: "ring8",
        means: (0..<8).map { (i: Int) -> (x: Double, y: Double) in
            let angle: Double = 2 * Double.pi * Double(i) / 8
            return (Double.cos(angle), Double.sin(angle))
        },
        sigma: 0.01)

    /// 25 modes on the grid {-4, -2, 0, 2, 4}², σ = 0.05.
    public static let grid25 = Mixture2D(
        name: "grid25",
        means: (0..<25).map { (i: Int) -> (x: Double, y: Double) in
            let row: Int = i / 5, column: Int = i % 5
            return (Double(2 * row - 4), Double(2 * column - 4))
        },
        sigma: 0.05)

    public static let all = [ring8, grid25]

    /// The mixture named `name` (`ring8`, `grid25`), or nil.
    public static func named(_ name: String) -> Mixture2D? {
        all.first { $0.name == name }
    }

    /// `count` points (count × 2, x then y) drawn from the mixture with Philox key `key`:
    /// a uniform picks each point's mode, two normals its offset.
    public func sample(count: Int, key: UInt64) -> [Float] {
        labelledSample(count: count, key: key).points
    }

    /// `sample(count:key:)`'s points and each point's mode (its class for a conditional GAN).
    public func labelledSample(count: Int, key: UInt64) -> (points: [Float], modes: [Int]) {
        var uniforms = [Float](repeating: 0, count: count)
        var normals = [Float](repeating: 0, count: count * 2)
        uniforms.withUnsafeMutableBufferPointer { Philox.fillUniform($0, seed: key, counter: 0) }
        normals.withUnsafeMutableBufferPointer {
            Philox.fillNormal($0, seed: key, counter: Philox.blocks(count), mean: 0, std: 1)
        }
        var points = [Float](repeating: 0, count: count * 2)
        var modes = [Int](repeating: 0, count: count)
        for i in 0..<count {
            modes[i] = min(means.count - 1, Int(uniforms[i] * Float(means.count)))
            let mode = means[modes[i]]
            points[2 * i] = Float(mode.x + sigma * Double(normals[2 * i]))
            points[2 * i + 1] = Float(mode.y + sigma * Double(normals[2 * i + 1]))
        }
        return (points, modes)
    }

    /// The index of the mode nearest to (x, y) and the distance to it.
    public func nearestMode(x: Double, y: Double) -> (mode: Int, distance: Double) {
        var best = (mode: 0, distance: Double.infinity)
        for (i, m) in means.enumerated() {
            let d = ((x - m.x) * (x - m.x) + (y - m.y) * (y - m.y)).squareRoot()
            if d < best.distance { best = (i, d) }
        }
        return best
    }
}
