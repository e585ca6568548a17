import Foundation

/// An SVG chart of the discriminator's and the generator's loss over steps.
public enum LossCurve {
    public struct Point: Equatable, Sendable {
        public let step: Int
        public let discriminatorLoss: Double
        public let generatorLoss: Double

        public init(step: Int, discriminatorLoss: Double, generatorLoss: Double) {
            self.step = step
            self.discriminatorLoss = discriminatorLoss
            self.generatorLoss = generatorLoss
        }
    }

    public static func svg(_ points: [Point]) -> String {
        let (width, height, margin) = (800.0, 400.0, 50.0)
        let finite = points.filter { $0.discriminatorLoss.isFinite && $0.generatorLoss.isFinite }
        let maxStep = Double(max(finite.map(\.step).max() ?? 1, 1))
        let maxLoss = max(finite.map { max($0.discriminatorLoss, $0.generatorLoss) }.max() ?? 1, 1e-6) * 1.05
        func x(_ step: Int) -> Double { margin + Double(step) / maxStep * (width - 2 * margin) }
        func y(_ loss: Double) -> Double { height - margin - loss / maxLoss * (height - 2 * margin) }
        func polyline(_ value: (Point) -> Double, _ color: String) -> String {
            let coordinates = finite.map { String(format: "%.1f,%.1f", x($0.step), y(value($0))) }.joined(separator: " ")
            return "<polyline fill=\"none\" stroke=\"\(color)\" stroke-width=\"1.5\" points=\"\(coordinates)\"/>"
        }
        var svg = """
            <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(width))" height="\(Int(height))" font-family="sans-serif" font-size="12">
            <rect width="100%" height="100%" fill="white"/>
            <line x1="\(margin)" y1="\(height - margin)" x2="\(width - margin)" y2="\(height - margin)" stroke="black"/>
            <line x1="\(margin)" y1="\(margin)" x2="\(margin)" y2="\(height - margin)" stroke="black"/>
            <text x="\(width / 2)" y="\(height - 12)" text-anchor="middle">step (last \(Int(maxStep)))</text>
            <text x="12" y="\(margin - 12)">loss (top \(String(format: "%.2f", maxLoss)))</text>
            <text x="\(width - margin - 150)" y="\(margin - 12)" fill="#1f77b4">D loss</text>
            <text x="\(width - margin - 80)" y="\(margin - 12)" fill="#d62728">G loss</text>

            """
        svg += polyline(\.discriminatorLoss, "#1f77b4") + "\n"
        svg += polyline(\.generatorLoss, "#d62728") + "\n"
        svg += "</svg>\n"
        return svg
    }
}
