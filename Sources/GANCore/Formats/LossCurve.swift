import Foundation

/// An SVG chart of the discriminator's and the generator's loss over steps and, once a
/// run has evaluations, a second chart of them beside it: the shares (precision, recall,
/// coverage, high-quality samples) on a 0–1 axis and FD-FMNIST or the modes covered on
/// an axis of their own.
public enum LossCurve {
    public struct Point: Equatable, Sendable {
        public let step: Int
        public let discriminatorLoss: Double
        public let generatorLoss: Double
        /// The evaluation at this step by metrics.csv column, empty on steps without one.
        public let evaluation: [String: Double]

        public init(step: Int, discriminatorLoss: Double, generatorLoss: Double, evaluation: [String: Double] = [:]) {
            self.step = step
            self.discriminatorLoss = discriminatorLoss
            self.generatorLoss = generatorLoss
            self.evaluation = evaluation
        }
    }

    /// The evaluation chart's series on the 0–1 axis, and those on the right axis (the
    /// first one a run has).
    static let shares = [("precision", "#2ca02c"), ("recall", "#9467bd"), ("coverage", "#ff7f0e"), ("high_quality", "#17becf"),
                         ("fidelity", "#2ca02c"), ("pair_fidelity", "#9467bd"), ("dcr_share", "#ff7f0e"), ("usefulness", "#17becf")]
    static let scaled = [("fd_fmnist", "FD-FMNIST"), ("modes_covered", "modes covered")]

    public static func svg(_ points: [Point]) -> String {
        let evaluations = evaluationChart(points)
        return lossChart(points, canvasWidth: evaluations == nil ? 800 : 1600) + (evaluations ?? "") + "</svg>\n"
    }

    /// The loss chart, 800×400, opening an <svg> element `canvasWidth` wide.
    private static func lossChart(_ points: [Point], canvasWidth: Int) -> String {
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
            <svg xmlns="http://www.w3.org/2000/svg" width="\(canvasWidth)" height="\(Int(height))" font-family="sans-serif" font-size="12">
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
        return svg
    }

    /// The evaluation chart as a group 800 pixels to the right, or nil without evaluations.
    private static func evaluationChart(_ points: [Point]) -> String? {
        let evaluated = points.filter { !$0.evaluation.isEmpty }
        guard !evaluated.isEmpty else { return nil }
        let (width, height, margin) = (800.0, 400.0, 50.0)
        let maxStep = Double(max(points.map(\.step).max() ?? 1, 1))
        func x(_ step: Int) -> Double { margin + Double(step) / maxStep * (width - 2 * margin) }
        func series(_ column: String, top: Double, color: String) -> String {
            let values = evaluated.compactMap { p in p.evaluation[column].flatMap { $0.isFinite ? (p.step, $0) : nil } }
            let coordinates = values.map { String(format: "%.1f,%.1f", x($0.0), height - margin - $0.1 / top * (height - 2 * margin)) }
            return "<polyline fill=\"none\" stroke=\"\(color)\" stroke-width=\"1.5\" points=\"\(coordinates.joined(separator: " "))\"/>\n"
                + coordinates.map { point in
                    let xy = point.split(separator: ",")
                    return "<circle cx=\"\(xy[0])\" cy=\"\(xy[1])\" r=\"3\" fill=\"\(color)\"/>"
                }.joined(separator: "\n") + "\n"
        }
        var svg = """
            <g transform="translate(800,0)">
            <line x1="\(margin)" y1="\(height - margin)" x2="\(width - margin)" y2="\(height - margin)" stroke="black"/>
            <line x1="\(margin)" y1="\(margin)" x2="\(margin)" y2="\(height - margin)" stroke="black"/>
            <line x1="\(width - margin)" y1="\(margin)" x2="\(width - margin)" y2="\(height - margin)" stroke="black"/>
            <text x="\(width / 2)" y="\(height - 12)" text-anchor="middle">step (evaluations)</text>
            <text x="12" y="\(margin - 12)">share (0 to 1)</text>

            """
        var legend = 150.0
        for (column, color) in shares where evaluated.contains(where: { $0.evaluation[column] != nil }) {
            svg += series(column, top: 1, color: color)
            svg += "<text x=\"\(legend)\" y=\"\(margin - 12)\" fill=\"\(color)\">\(column.replacingOccurrences(of: "_", with: " "))</text>\n"
            legend += 90
        }
        if let (column, label) = scaled.first(where: { column, _ in evaluated.contains { $0.evaluation[column] != nil } }) {
            let top = max(evaluated.compactMap { $0.evaluation[column] }.filter(\.isFinite).max() ?? 1, 1e-6) * 1.05
            svg += series(column, top: top, color: "black")
            svg += "<text x=\"\(width - margin)\" y=\"\(margin - 12)\" text-anchor=\"end\">\(label) (right axis, top \(String(format: "%.3g", top)))</text>\n"
        }
        return svg + "</g>\n"
    }
}
