import Foundation

/// An SVG scatter plot of 2-D samples over a mixture's modes (each mode drawn as its
/// 3σ circle, the high-quality region of the mode metrics).
public enum ScatterPlot {
    public static func svg(points: [Float], mixture: Mixture2D, title: String) -> String {
        let size = 600.0, margin = 30.0
        let extent = (mixture.means.map { max(abs($0.x), abs($0.y)) }.max() ?? 1) * 1.3 + 6 * mixture.sigma
        func px(_ x: Double) -> Double { margin + (x + extent) / (2 * extent) * (size - 2 * margin) }
        func py(_ y: Double) -> Double { size - margin - (y + extent) / (2 * extent) * (size - 2 * margin) }
        let scale = (size - 2 * margin) / (2 * extent)
        var svg = """
            <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(size))" height="\(Int(size))" font-family="sans-serif" font-size="12">
            <rect width="100%" height="100%" fill="white"/>
            <rect x="\(margin)" y="\(margin)" width="\(size - 2 * margin)" height="\(size - 2 * margin)" fill="none" stroke="#999"/>
            <text x="\(margin)" y="\(margin - 10)">\(title)</text>

            """
        for m in mixture.means {
            svg += String(format: "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"%.2f\" fill=\"none\" stroke=\"#2ca02c\"/>\n",
                          px(m.x), py(m.y), max(3 * mixture.sigma * scale, 1.5))
        }
        for i in 0..<points.count / 2 {
            let x = Double(points[2 * i]), y = Double(points[2 * i + 1])
            guard x.isFinite, y.isFinite, abs(x) <= extent, abs(y) <= extent else { continue }
            svg += String(format: "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"1.2\" fill=\"#1f77b4\" fill-opacity=\"0.5\"/>\n", px(x), py(y))
        }
        return svg + "</svg>\n"
    }
}
